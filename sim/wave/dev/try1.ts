import { runWave } from '../run-wave.js'
import { waveSimConfig } from '../wave-config.js'
const [n, k, seed] = process.argv.slice(2).map(Number)
const cfg = waveSimConfig({ nodes: n, k, domains: 3 })
cfg.faults.enabled = process.argv[5] !== 'nofaults'
const r = runWave(cfg, seed!, { fullTrace: true })
console.log(JSON.stringify({ completed: r.completed, kinds: r.messagesByKind, faults: r.faults }))
console.log(r.violation?.message)
const from = Number(process.env.FROM ?? 0)
console.log(r.trace!.slice(from, from + Number(process.env.LINES ?? 80)).join('\n'))
