// Runs inside the test's network namespace: asks each agent GET /v1/cluster, one request in
// flight per agent (a slow emulated agent must not be buried under piled-up polls), about
// once a second, and prints one JSON line whenever what an agent answers changes:
//   {"agent":"10.99.0.101:7400","alive":3,"ids":["..."],"apis":{...},"ms":<answer time>,"t":<ms since start>}
//   {"agent":"10.99.0.101:7400","error":"...","ms":...,"t":...}   (once per kind of failure)
// usage: node cluster-watch.mjs HOST:PORT [HOST:PORT ...]
const agents = process.argv.slice(2)
const last = new Map()
const t0 = Date.now()
const PERIOD_MS = 1000
async function poll(agent) {
  const started = Date.now()
  let line
  try {
    const res = await fetch(`http://${agent}/v1/cluster`, { signal: AbortSignal.timeout(20000) })
    const c = await res.json()
    // Agents only: the coordinator is a mesh member too, without an API.
    const alive = c.nodes.filter((n) => n.status === 'alive' && n.api)
    const key = alive.map((n) => n.id).sort().join(',')
    line = { key, out: { agent, alive: alive.length, ids: alive.map((n) => n.id).sort(), apis: Object.fromEntries(alive.map((n) => [n.id, n.api])) } }
  } catch (err) {
    const why = String(err?.cause?.code ?? err?.name ?? err?.message ?? err)
    line = { key: `error ${why}`, out: { agent, error: why } }
  }
  const ms = Date.now() - started
  if (last.get(agent) !== line.key) {
    last.set(agent, line.key)
    console.log(JSON.stringify({ ...line.out, ms, t: Date.now() - t0 }))
  }
  setTimeout(() => poll(agent), Math.max(0, PERIOD_MS - ms))
}
agents.forEach(poll)
