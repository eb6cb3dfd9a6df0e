import { runWave } from '../run-wave.js'
import { waveSimConfig } from '../wave-config.js'
const [n, k, seeds] = process.argv.slice(2).map(Number)
const faults = process.argv[5] !== 'nofaults'
let t0 = performance.now(), ev = 0, msgs = 0, viol = 0
for (let s = 1; s <= seeds!; s++) {
  const cfg = waveSimConfig({ nodes: n, k })
  cfg.faults.enabled = faults
  const r = runWave(cfg, s)
  ev += r.events; msgs += r.voteMessages
  if (r.violation) { viol++; console.log(s, r.violation.message.slice(0, 300)) }
}
const dt = performance.now() - t0
console.log(JSON.stringify({ n, k, seeds, msPerSeed: (dt / seeds!).toFixed(1), eventsPerSeed: (ev / seeds!).toFixed(0), usPerEvent: (dt * 1000 / ev).toFixed(1), viol }))
