// Runs inside the test's network namespace: polls each agent's GET /v1/cluster every
// 250 ms and prints one JSON line whenever what an agent sees changes:
//   {"agent":"10.99.0.101:7400","alive":3,"ids":["..."],"t":<ms since start>}
// usage: node cluster-watch.mjs HOST:PORT [HOST:PORT ...]
const agents = process.argv.slice(2)
const last = new Map()
const t0 = Date.now()
async function poll(agent) {
  try {
    const res = await fetch(`http://${agent}/v1/cluster`, { signal: AbortSignal.timeout(10000) })
    const c = await res.json()
    const alive = c.nodes.filter((n) => n.status === 'alive')
    const key = alive.map((n) => n.id).sort().join(',')
    if (last.get(agent) !== key) {
      last.set(agent, key)
      console.log(JSON.stringify({ agent, alive: alive.length, ids: alive.map((n) => n.id).sort(), apis: Object.fromEntries(alive.map((n) => [n.id, n.api])), t: Date.now() - t0 }))
    }
  } catch {
    // not up yet
  }
}
setInterval(() => agents.forEach(poll), 250)
