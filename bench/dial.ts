/**
 * What one mesh link costs to open, looked up through the DHT or dialled straight at the
 * address a peer's record names (agent/mesh/direct-dht.ts): a private bootstrap node, a
 * server and a client, all in this process on loopback (so the CPU figure is the whole
 * system's: client, server and bootstrap), and M connections opened and closed one after
 * another per mode, the modes interleaved over R rounds.
 *
 *   npx tsx bench/dial.ts [M] [R]        (default 60 connections, 4 rounds)
 *
 * It runs under the agents' node flags (AGENT_NODE_FLAGS: `--no-opt` among them), re-running
 * itself with them if started without: a link's cost in a real agent is interpreted code.
 *
 * One JSON line per mode: {"bench":"dial","mode":"lookup"|"direct","cpuMsPerLink":p50 over
 * rounds,"wallMsPerLink":..,"queriesPerLink":..,"requestsPerLink":..}
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import DHT from 'hyperdht'
import { DirectDHT, parseHostPort, startBootstrapNode } from '../agent/mesh/index.js'
import { AGENT_NODE_FLAGS } from '../agent/node-flags.js'

if (!AGENT_NODE_FLAGS.every((f) => process.execArgv.includes(f))) {
  const r = spawnSync(process.execPath, [...AGENT_NODE_FLAGS, '--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  process.exit(r.status ?? 1)
}

const M = Number(process.argv[2] ?? 60)
const R = Number(process.argv[3] ?? 4)
const bootstrapNode = await startBootstrapNode()
const bootstrap = [parseHostPort(bootstrapNode.address)]
const server = new DirectDHT({ bootstrap, host: '127.0.0.1', firewalled: false })
const client = new DirectDHT({ bootstrap, host: '127.0.0.1', firewalled: false })
const keyPair = DHT.keyPair()
const hex = keyPair.publicKey.toString('hex')
const listener = (server as unknown as { createServer(onConn: (c: NodeJS.EventEmitter) => void): { listen(k: unknown): Promise<void>; close(): Promise<void> } }).createServer((c) => c.on('error', () => {}))
await listener.listen(keyPair)
await client.ready()
const serverPort = server.address().port
const stats = (client as unknown as { stats: { queries: { total: number }; requests: { total: number } } }).stats
/** hyperdht remembers a server's relays after a connection: forget them, so each lookup dial looks up. */
const relayCache = (client as unknown as { _relayAddressesCache: { clear(): void } })._relayAddressesCache

async function link(): Promise<void> {
  relayCache.clear()
  const s = client.connect(keyPair.publicKey)
  s.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    s.once('open', () => resolve())
    s.once('close', () => reject(new Error('closed before open')))
  })
  s.destroy()
  await new Promise((r) => s.once('close', r))
}

const results: Record<string, { cpu: number[]; wall: number[]; queries: number[]; requests: number[] }> = { lookup: { cpu: [], wall: [], queries: [], requests: [] }, direct: { cpu: [], wall: [], queries: [], requests: [] } }
for (let r = 0; r < R; r++) {
  for (const mode of r % 2 === 0 ? (['lookup', 'direct'] as const) : (['direct', 'lookup'] as const)) {
    if (mode === 'direct') client.setAddress(hex, { host: '127.0.0.1', port: serverPort })
    else client.forgetAddress(hex)
    const q0 = stats.queries.total
    const rq0 = stats.requests.total
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    for (let i = 0; i < M; i++) await link()
    const cpu = process.cpuUsage(cpu0)
    const res = results[mode]!
    res.cpu.push((cpu.user + cpu.system) / 1000 / M)
    res.wall.push((performance.now() - t0) / M)
    res.queries.push((stats.queries.total - q0) / M)
    res.requests.push((stats.requests.total - rq0) / M)
  }
}
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
for (const [mode, r] of Object.entries(results)) {
  process.stdout.write(
    JSON.stringify({ bench: 'dial', mode, links: M * R, nodeFlags: AGENT_NODE_FLAGS.join(' '), cpuMsPerLink: +p50(r.cpu).toFixed(2), cpuMsPerLinkRounds: r.cpu.map((x) => +x.toFixed(2)), wallMsPerLink: +p50(r.wall).toFixed(2), queriesPerLink: +p50(r.queries).toFixed(2), requestsPerLink: +p50(r.requests).toFixed(2), directFallbacks: client.directFallbacks }) + '\n',
  )
}
await client.destroy()
await listener.close()
await server.destroy()
await bootstrapNode.close()
