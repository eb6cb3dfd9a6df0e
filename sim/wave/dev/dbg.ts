import { WaveWorld } from '../wave-world.js'
import { waveSimConfig } from '../wave-config.js'
import { scheduleFaults } from '../fault-schedule.js'
const [n, k, seed, until] = process.argv.slice(2).map(Number)
const cfg = waveSimConfig({ nodes: n, k, domains: 3 })
const w = new WaveWorld(cfg, seed!, { fullTrace: true })
scheduleFaults(w)
w.run(until!)
for (const id of (process.env.IDS ?? 'coord').split(',')) {
  const x = w.node(id)
  console.log(id, 'up', x.up, x.phase, 'img', x.image, JSON.stringify(x.facts), JSON.stringify(x.vote?.counters), JSON.stringify(x.vote?.view()), 'wake', x.vote?.nextWakeAt())
}
console.log('t', w.t)
