/**
 * `npm start`: a private DHT bootstrap node and a cluster of real agents (one process
 * each) on loopback with synthetic hardware, powered on one by one. Shows each worker
 * join as the first agent sees it, then the cluster table, then how to query it from
 * another terminal. Ctrl-C stops everything.
 *
 *   npm start                       8 agents
 *   npm start -- --nodes 20         more
 *   npm start -- --once             exit after the table (scripts, CI)
 *   npm start -- --wave             also a coordinator with two image versions and a fake
 *                                   Kubernetes API; after the joins, a rolling upgrade
 *                                   v1.0.0 -> v2.0.0 with per-node progress (sim/demo/wave-demo.ts)
 */
import { parseArgs } from 'node:util'
import { AgentClient, nodesTable, watchText } from '../../agent/api/index.js'
import { LocalCluster } from './local-cluster.js'
import { WaveDemo } from './wave-demo.js'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '8' },
    'power-on-gap-ms': { type: 'string', default: '150' },
    once: { type: 'boolean', default: false },
    wave: { type: 'boolean', default: false },
    'max-unavailable': { type: 'string' },
  },
  strict: true,
})
const n = Number(values.nodes)
const gapMs = Number(values['power-on-gap-ms'])
if (!Number.isInteger(n) || n < 1 || n > 200) {
  process.stderr.write(`error: --nodes must be 1..200, not "${values.nodes}"\n`)
  process.exit(2)
}
if (!Number.isInteger(gapMs) || gapMs < 0) {
  process.stderr.write(`error: --power-on-gap-ms must be a whole number, not "${values['power-on-gap-ms']}"\n`)
  process.exit(2)
}

const waveK = values['max-unavailable'] === undefined ? Math.max(1, Math.floor(n / 4)) : Number(values['max-unavailable'])
if (values.wave && (!Number.isInteger(waveK) || waveK < 1 || waveK > n)) {
  process.stderr.write(`error: --max-unavailable must be 1..${n}, not "${values['max-unavailable']}"\n`)
  process.exit(2)
}

const t0 = Date.now()
const stamp = () => `[+${((Date.now() - t0) / 1000).toFixed(2)}s]`
const say = (line: string) => process.stdout.write(line + '\n')
const short = (id: string) => id.slice(0, 8)

// --wave: the cluster comes with a coordinator (its DHT bootstrap node is the agents') and a fake Kubernetes API.
const waveDemo = values.wave
  ? await WaveDemo.create(n, {
      reboot: (id, image) => say(`${stamp()} REBOOT  ${id}  -> boots ${image}`),
      error: (id, err) => say(`${stamp()} agent ${id} failed to come back: ${err.message}`),
    })
  : undefined
const cluster = waveDemo?.cluster ?? (await LocalCluster.create({ nodes: n }))
let stopping: Promise<void> | undefined
const watchAbort = new AbortController()
async function stop(code: number): Promise<never> {
  stopping ??= (async () => {
    watchAbort.abort()
    say(`\nstopping ${cluster.pids().length} agents and the bootstrap node${waveDemo ? ', the coordinator and the fake Kubernetes API' : ''}...`)
    if (waveDemo) await waveDemo.stop()
    else await cluster.stop()
    say('stopped; nothing left running.')
  })()
  await stopping
  process.exit(code)
}
process.on('SIGINT', () => void stop(0))
process.on('SIGTERM', () => void stop(0))

try {
  say(`shoal demo: ${n} workers on loopback, cluster "${cluster.cluster}"`)
  say(`  private DHT bootstrap node ${cluster.bootstrap.address} (nothing leaves this machine)`)
  say(`${stamp()} loading ${n} agent processes (synthetic hardware)...`)
  await Promise.all(cluster.agents.map((_, i) => cluster.spawnHeld(i)))

  // Power on the first worker and watch the cluster through its eyes.
  const first = await cluster.release(0)
  say(`${stamp()} powered on ${short(first.id)}  (${first.api}); watching the cluster through it`)
  say(waveDemo ? `  open the cluster page: ${waveDemo.url}/   (the coordinator's: it shows the wave timeline)` : `  open the cluster page: http://${first.api}/`)
  const client = new AgentClient(first.api!)
  const seen = new Set<string>()
  let resolveAll: () => void = () => {}
  const allSeen = new Promise<void>((r) => (resolveAll = r))
  const watching = client
    .watch((line) => {
      if (line.type === 'snapshot') {
        for (const node of line.nodes) if (!(waveDemo && node.id === 'coordinator')) seen.add(node.id)
        return
      }
      if (line.type === 'member' && line.previous === null) {
        if (waveDemo && line.id === 'coordinator') return void say(`${stamp()} JOINED  coordinator  (the wave coordinator's mesh peer)`)
        seen.add(line.id)
        const m = cluster.agents.find((a) => a.id === line.id)
        say(`${stamp()} JOINED  ${line.id}  ${line.node?.domain ?? ''}  (${seen.size}/${n} seen by ${short(first.id)})${m ? '' : ' [not ours?]'}`)
        if (seen.size >= n) resolveAll()
        return
      }
      const text = watchText(line)
      if (text) say(`${stamp()} ${text.slice(14)}`)
    }, watchAbort.signal)
    .catch((err) => {
      if (stopping) return
      if (waveDemo) say(`${stamp()} ${short(first.id)} went down for its reboot: the watch through it ended (the wave's progress follows below)`)
      else say(`${stamp()} lost the watch stream: ${(err as Error).message}`)
    })
  if (seen.size >= n) resolveAll()

  for (let i = 1; i < n; i++) {
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs))
    const a = cluster.agents[i]!
    void cluster.release(i).catch((err) => say(`${stamp()} agent ${short(a.id)} failed: ${(err as Error).message}`))
    say(`${stamp()} powered on ${short(a.id)}`)
  }

  const deadline = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000).unref())
  if ((await Promise.race([allSeen, deadline])) === 'timeout') say(`${stamp()} warning: only ${seen.size}/${n} joined within 30 s`)

  // Everyone, not just the first agent, should know everyone.
  const clients = cluster.agents.filter((a) => a.api).map((a) => new AgentClient(a.api!))
  const knowDeadline = Date.now() + 20_000
  for (;;) {
    const counts = await Promise.all(clients.map((c) => c.cluster().then((s) => s.counts.total).catch(() => 0)))
    if (counts.every((x) => x >= n)) {
      say(`${stamp()} every agent knows all ${n} nodes`)
      break
    }
    if (Date.now() > knowDeadline) {
      say(`${stamp()} warning: after 20 s, ${counts.filter((x) => x >= n).length}/${counts.length} agents know every node`)
      break
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  await Promise.all(clients.map((c) => c.close()))

  say('')
  say(nodesTable((await client.cluster()).nodes))
  say('')
  say('Ask any agent about the whole cluster, from another terminal:')
  say(`  npx shoal status --agent ${first.api}      or in a browser: http://${first.api}/`)
  say(`  npx shoal nodes --agent ${first.api}`)
  say(`  npx shoal watch --agent ${first.api}      then crash a worker: kill -9 ${cluster.agents[n - 1]?.proc?.pid ?? 'PID'}`)
  say(`agent pids: ${cluster.pids().join(' ')}`)
  if (waveDemo) {
    say('')
    say(`${stamp()} rolling upgrade ${'v1.0.0'} -> v2.0.0 through the coordinator at ${waveDemo.url} (at most ${waveK} node(s) down at a time)`)
    say(`  follow it from another terminal: npx shoal upgrade status --watch --coordinator ${waveDemo.url} --admin-token ${waveDemo.adminToken}`)
    say(`  or watch its timeline fill: ${waveDemo.url}/`)
    if (!(await waveDemo.settled())) say(`${stamp()} warning: some agents' votes are still settling after their boot; starting anyway`)
    const s = await waveDemo.runWave(waveK, (l) => say(l.startsWith('  ') || l === '' || l.includes('\n') ? l : `${stamp()} ${l}`))
    say('')
    say(`${stamp()} wave ${s.id}: ${s.state}${s.state === 'done' ? `, every node on ${s.target}` : ''}`)
    if (values.once) await stop(s.state === 'done' ? 0 : 1)
  }
  if (values.once) await stop(0)
  say('Ctrl-C stops everything. Changes appear below as they happen.')
  await watching
} catch (err) {
  process.stderr.write(`error: ${(err as Error).message}\n`)
  await stop(1)
}
