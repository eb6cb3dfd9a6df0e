// Runs inside the test's network namespace: asks the coordinator GET /v1/waves/current about
// twice a second (one request in flight) and prints one JSON line whenever the wave's
// overall state or any node's state, image or mesh liveness changes:
//   {"state":"running","nodes":{"<id>":["rebooting","v1","suspect"],...},"t":<ms since start>}
//   {"error":"...","t":...}   (once per kind of failure; the coordinator may be restarting)
// usage: node wave-watch.mjs http://HOST:PORT ADMIN_TOKEN
const [url, token] = process.argv.slice(2)
const t0 = Date.now()
let last = ''
async function poll() {
  const started = Date.now()
  let key
  let out
  try {
    const res = await fetch(`${url}/v1/waves/current`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10000) })
    const s = await res.json()
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${s.message ?? s.error ?? ''}`)
    const nodes = Object.fromEntries(s.nodes.map((n) => [n.node, [n.state, n.image ?? null, n.liveness ?? null, ...(n.reason ? [n.reason] : [])]]))
    out = { id: s.id, state: s.state, ...(s.reason ? { reason: s.reason } : {}), nodes }
    key = JSON.stringify(out)
  } catch (err) {
    const why = String(err?.cause?.code ?? err?.message ?? err)
    out = { error: why }
    key = `error ${why}`
  }
  if (key !== last) {
    last = key
    console.log(JSON.stringify({ ...out, t: Date.now() - t0 }))
  }
  setTimeout(poll, Math.max(0, 500 - (Date.now() - started)))
}
poll()
