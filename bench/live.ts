/**
 * Live mesh benchmark: N real agents (one process each) on loopback around a private DHT
 * bootstrap node. Agents are loaded first and held; then all are released at one instant
 * (t0), and every agent's /v1/watch stream tells when it knows every node.
 *
 *   npx tsx bench/live.ts              N = 20 and 50
 *   npx tsx bench/live.ts 10 30        other sizes
 *
 * One JSON object per line per figure. Targets: full knowledge <= 3 s at 50
 * agents; <= 80 MB RSS per agent. Bounded: each size gives up after its deadlines.
 *
 *   live.join      release -> every agent knows every node (max, p50, p99)
 *   live.cpu       CPU the agents and the bootstrap node used in that window, and the floor
 *                  it sets on this machine: their CPU-seconds / cores. A join far above the
 *                  floor waits for something; near it, it is CPU-bound.
 *   live.rss       VmRSS per agent after the join
 *   live.overlay   degree, bytes and frames sent per agent by message type, dials,
 *                  hyperswarm connects, silent links, mesh counters, agents' warnings
 *
 * Env: SHOAL_BENCH_ONE_PROCESS=0 skips the one-process run; SHOAL_BENCH_TARGET_DEGREE=K sets
 * the overlay's target degree; SHOAL_BENCH_MESH='{"key":value}' other mesh settings over the
 * shared timing (experiments); SHOAL_BENCH_CPU_PROF=DIR makes
 * agents 0 to 3 write V8 CPU profiles there, and the release -> full-knowledge window to
 * DIR/window.json (one size per DIR): `npx tsx bench/_live-profile.ts DIR` sums them up.
 */
import { copyFile, readFile, writeFile } from 'node:fs/promises'
import { setMaxListeners } from 'node:events'
import { cpus, loadavg } from 'node:os'
import { randomBytes } from 'node:crypto'
import { AgentClient } from '../agent/api/index.js'
import { MeshRuntime, nodeIdentity, parseHostPort, realClock, startBootstrapNode, SwarmTransport, systemRng, type TransportStats } from '../agent/mesh/index.js'
import { MESH_TIMINGS, meshConfig, type MeshConfig } from '../agent/protocol/mesh-config.js'
import { MeshNode } from '../agent/protocol/mesh-node.js'
import { Roster } from '../agent/protocol/roster.js'
import { agentLauncher } from '../sim/demo/agent-launcher.js'
import { LocalCluster } from '../sim/demo/local-cluster.js'

const sizes = process.argv.slice(2).map(Number).filter((n) => Number.isInteger(n) && n > 1)
const ns = sizes.length > 0 ? sizes : [20, 50]
// Deadlines keep the whole run under 3 minutes even on a saturated machine.
const SPAWN_DEADLINE_MS = 75_000
const KNOW_DEADLINE_MS = 20_000
const ONE_PROCESS_DEADLINE_MS = 15_000

const emit = (obj: object) => process.stdout.write(JSON.stringify(obj) + '\n')

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN
}

async function rssBytes(pid: number): Promise<number | undefined> {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

/** CPU time (user + system) a process has used so far, in ms; /proc/PID/stat counts in clock ticks (100/s). */
async function cpuMs(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) * 10
  } catch {
    return undefined
  }
}

async function cpuOfAll(pids: (number | undefined)[]): Promise<(number | undefined)[]> {
  return Promise.all(pids.map(cpuMs))
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  )
}

/** SHOAL_BENCH_CPU_PROF=DIR: agents 0 to 3 write V8 CPU profiles there (on exit). */
const profDir = process.env.SHOAL_BENCH_CPU_PROF
const PROFILED_AGENTS = 4
/** SHOAL_BENCH_TARGET_DEGREE=K: the overlay's target degree (shared timing's otherwise): do fewer links serve the join? */
const targetDegree = Number(process.env.SHOAL_BENCH_TARGET_DEGREE) || undefined
/**
 * SHOAL_BENCH_MESH='{"ihaveIntervalMs":200}': mesh settings over the shared timing, for
 * experiments (checked by meshConfig: an unknown key is an error). Printed in live.join.
 */
const meshOverrides = process.env.SHOAL_BENCH_MESH ? (JSON.parse(process.env.SHOAL_BENCH_MESH) as Partial<MeshConfig>) : undefined
if (meshOverrides) meshConfig(meshOverrides, 'shared')
const meshOverride = targetDegree || meshOverrides ? { ...MESH_TIMINGS.shared.mesh, ...meshOverrides, ...(targetDegree ? { targetDegree } : {}) } : undefined

async function run(n: number): Promise<void> {
  // Agents' warnings and state changes, by message (suspicions, refutations, silent links...).
  const logCounts: Record<string, number> = {}
  const silentSamples: Record<string, unknown>[] = []
  const cluster = await LocalCluster.create({
    nodes: n,
    ...(meshOverride ? { mesh: meshOverride } : {}),
    readyTimeoutMs: SPAWN_DEADLINE_MS,
    onLog: (_node, line) => {
      if (line.msg === 'closing a link that stayed silent' && silentSamples.length < 12) silentSamples.push(line)
      if (typeof line.level === 'number' && line.level >= 40 && typeof line.msg === 'string') logCounts[line.msg] = (logCounts[line.msg] ?? 0) + 1
      else if (line.msg === 'member suspect' || line.msg === 'member dead' || line.msg === 'refuting a claim about this node') logCounts[line.msg] = (logCounts[line.msg] ?? 0) + 1
    },
    // 4 agents at a 250 µs interval: ~1000 samples each for a ~250 ms join, enough to rank frames.
    ...(profDir ? { nodeArgs: (i: number) => (i < PROFILED_AGENTS ? ['--cpu-prof', '--cpu-prof-interval', '250', '--cpu-prof-dir', profDir] : []) } : {}),
  })
  const abort = new AbortController()
  setMaxListeners(1000, abort.signal)
  const clients: AgentClient[] = []
  try {
    const spawnStart = Date.now()
    await withDeadline(Promise.all(cluster.agents.map((_, i) => cluster.spawnHeld(i))), SPAWN_DEADLINE_MS, `loading ${n} agents`)
    const spawnMs = Date.now() - spawnStart
    const loadAtStart = loadavg()[0]

    // The agents' bundle beside the profiles: live-profile names our frames by its source files.
    const entry = (await agentLauncher()).at(-1)!
    if (profDir && entry.endsWith('.mjs')) await copyFile(entry, `${profDir}/agent.mjs`)
    const agentPids = cluster.agents.map((a) => a.proc?.pid)
    const cpuAtStart = await cpuOfAll([...agentPids, cluster.bootstrap.pid])
    const benchCpuAtStart = process.cpuUsage()
    const t0 = Date.now()
    const t0MonoUs = process.hrtime.bigint() / 1000n
    const readyAt: number[] = []
    await withDeadline(Promise.all(cluster.agents.map((_, i) => cluster.release(i).then(() => readyAt.push(Date.now() - t0)))), SPAWN_DEADLINE_MS, 'release')

    // Full knowledge: each agent's view (from its watch stream) holds all n nodes.
    const knowAt = new Map<string, number>()
    const allKnow = new Promise<void>((resolve) => {
      for (const a of cluster.agents) {
        const known = new Set<string>()
        const client = new AgentClient(a.api!, 10_000)
        clients.push(client)
        const note = (id: string) => {
          known.add(id)
          if (known.size >= n && !knowAt.has(a.id)) {
            knowAt.set(a.id, Date.now() - t0)
            if (knowAt.size === n) resolve()
          }
        }
        client
          .watch((line) => {
            if (line.type === 'snapshot') for (const node of line.nodes) note(node.id)
            else if (line.type === 'member' || line.type === 'record') note(line.id)
          }, abort.signal)
          .catch(() => {})
      }
    })
    let fullKnowledgeMs: number | null = null
    try {
      await withDeadline(allKnow, KNOW_DEADLINE_MS, 'full knowledge')
      fullKnowledgeMs = Math.max(...knowAt.values())
    } catch {
      // reported below as null, with how many got there
    }
    const knowEndedAt = Date.now() - t0
    // The profiles' window (bench/_live-profile.ts): V8 stamps samples with the monotonic clock hrtime reads.
    if (profDir) await writeFile(`${profDir}/window.json`, JSON.stringify({ fromUs: Number(t0MonoUs), toUs: Number(process.hrtime.bigint() / 1000n) }))
    const cpuAtKnow = await cpuOfAll([...agentPids, cluster.bootstrap.pid])
    const benchCpu = process.cpuUsage(benchCpuAtStart)
    const used = cpuAtKnow.map((c, i) => (c !== undefined && cpuAtStart[i] !== undefined ? c - cpuAtStart[i]! : 0))
    const agentCpu = used.slice(0, n)
    const bootstrapCpuMs = used[n] ?? 0
    const benchCpuMs = (benchCpu.user + benchCpu.system) / 1000
    const cores = cpus().length
    const know = [...knowAt.values()]
    emit({
      bench: 'live.join',
      n,
      spawnMs,
      readyMsMax: Math.max(...readyAt),
      fullKnowledgeMs,
      agentsKnowingAll: knowAt.size,
      knowP50Ms: know.length ? quantile(know, 0.5) : null,
      knowP99Ms: know.length ? quantile(know, 0.99) : null,
      targetMs: n >= 50 ? 3000 : undefined,
      cores,
      load1AtStart: Number(loadAtStart?.toFixed(1)),
      ...(targetDegree ? { targetDegree } : {}),
      ...(meshOverrides ? { mesh: meshOverrides } : {}),
    })
    // Where the CPU went from release to full knowledge (or the deadline), and the floor it
    // sets: agents' and bootstrap's CPU-seconds shared by the machine's cores. A wall time
    // near the floor is CPU-bound; far above it, something waits.
    emit({
      bench: 'live.cpu',
      n,
      windowMs: knowEndedAt,
      agentCpuMsTotal: sum(agentCpu),
      agentCpuMsP50: quantile(agentCpu, 0.5),
      agentCpuMsMax: Math.max(...agentCpu),
      bootstrapCpuMs,
      benchCpuMs: Math.round(benchCpuMs),
      cpuFloorMs: Math.round((sum(agentCpu) + bootstrapCpuMs) / cores),
      cpuFloorWithBenchMs: Math.round((sum(agentCpu) + bootstrapCpuMs + benchCpuMs) / cores),
      cores,
      load1AtEnd: Number(loadavg()[0]?.toFixed(1)),
    })

    // Memory: the kernel's VmRSS of each agent process, after convergence.
    const rss = (await Promise.all(cluster.pids().map(rssBytes))).filter((x): x is number => x !== undefined).map((b) => b / 2 ** 20)
    emit({
      bench: 'live.rss',
      n,
      agents: rss.length,
      rssMbP50: Number(quantile(rss, 0.5).toFixed(1)),
      rssMbMax: Number(Math.max(...rss).toFixed(1)),
      rssMbMean: Number((rss.reduce((a, b) => a + b, 0) / rss.length).toFixed(1)),
      targetMb: 80,
    })

    // Overlay degree and traffic so far, from each agent's /v1/self.
    const selves = await Promise.all(clients.map((c) => c.self().catch(() => undefined)))
    const degrees: number[] = []
    const bytesOut: number[] = []
    const bytesIn: number[] = []
    const framesIn: number[] = []
    const chunksIn: number[] = []
    const writesOut: number[] = []
    const outByType: Record<string, { frames: number; bytes: number }> = {}
    const inByType: Record<string, { frames: number; bytes: number }> = {}
    const swarm = { clientAttempted: 0, clientOpened: 0, serverOpened: 0 }
    let silentLinksClosed = 0
    let dials = 0
    let dialsDropped = 0
    let directDials = 0
    let directFallbacks = 0
    const nodeCounts: Record<string, number> = {}
    for (const s of selves) {
      for (const [k, v] of Object.entries((s?.counters as { node?: Record<string, number> } | undefined)?.node ?? {})) nodeCounts[k] = (nodeCounts[k] ?? 0) + v
      const t = (s?.counters as { transport?: TransportStats } | undefined)?.transport
      if (!t) continue
      degrees.push(t.connections)
      bytesOut.push(t.bytesOut)
      bytesIn.push(t.bytesIn)
      framesIn.push(t.framesIn)
      chunksIn.push(t.chunksIn ?? 0)
      writesOut.push(t.writesOut ?? 0)
      silentLinksClosed += t.silentLinksClosed
      dials += t.dials
      dialsDropped += t.dialsDropped ?? 0
      directDials += t.directDials ?? 0
      directFallbacks += t.directFallbacks ?? 0
      for (const [type, c] of Object.entries(t.out ?? {})) {
        const o = (outByType[type] ??= { frames: 0, bytes: 0 })
        o.frames += c.frames
        o.bytes += c.bytes
      }
      for (const [type, c] of Object.entries(t.in ?? {})) {
        const o = (inByType[type] ??= { frames: 0, bytes: 0 })
        o.frames += c.frames
        o.bytes += c.bytes
      }
      const sc = t.swarmConnects as { client: { attempted: number; opened: number }; server: { opened: number } } | undefined
      if (sc) {
        swarm.clientAttempted += sc.client.attempted
        swarm.clientOpened += sc.client.opened
        swarm.serverOpened += sc.server.opened
      }
    }
    // Does an agent's CPU follow its degree (hubs: many links, many copies)? Agents by degree: [agents, mean CPU ms].
    const byDegree = new Map<number, number[]>()
    selves.forEach((s, i) => {
      const d = (s?.counters as { transport?: TransportStats } | undefined)?.transport?.connections
      if (d !== undefined) byDegree.set(d, [...(byDegree.get(d) ?? []), agentCpu[i] ?? 0])
    })
    const cpuMsByDegree = Object.fromEntries([...byDegree].sort((a, b) => a[0] - b[0]).map(([d, xs]) => [d, [xs.length, Math.round(sum(xs) / xs.length)]]))
    const framesPerAgentByType = Object.fromEntries(
      Object.entries(outByType)
        .sort((a, b) => b[1].frames - a[1].frames)
        .map(([type, c]) => [type, Math.round(c.frames / Math.max(1, degrees.length))]),
    )
    const kbPerAgentByType = Object.fromEntries(
      Object.entries(outByType)
        .sort((a, b) => b[1].bytes - a[1].bytes)
        .map(([type, c]) => [type, Number((c.bytes / 1024 / Math.max(1, degrees.length)).toFixed(1))]),
    )
    const framesInPerAgentByType = Object.fromEntries(
      Object.entries(inByType)
        .sort((a, b) => b[1].frames - a[1].frames)
        .map(([type, c]) => [type, Math.round(c.frames / Math.max(1, degrees.length))]),
    )
    emit({
      bench: 'live.overlay',
      n,
      degreeMin: Math.min(...degrees),
      degreeP50: quantile(degrees, 0.5),
      degreeMax: Math.max(...degrees),
      /** degree -> [agents, their mean CPU (ms) from release to full knowledge] */
      cpuMsByDegree,
      kbOutPerAgentP50: Number((quantile(bytesOut, 0.5) / 1024).toFixed(1)),
      kbOutPerAgentByType: kbPerAgentByType,
      framesOutPerAgentByType: framesPerAgentByType,
      /** What each agent received (frames decoded, bytes read), p50 over agents, and frames received by type (mean). */
      framesInPerAgentP50: quantile(framesIn, 0.5),
      kbInPerAgentP50: Number((quantile(bytesIn, 0.5) / 1024).toFixed(1)),
      /** Encrypted-stream chunks read and writes made per agent (p50): frames to one peer in one turn share a write. */
      chunksInPerAgentP50: quantile(chunksIn, 0.5),
      writesOutPerAgentP50: quantile(writesOut, 0.5),
      framesInPerAgentByType,
      /** Node records received per record learned, over all agents (1 = each record arrived once). */
      recordCopiesPerRecord: nodeCounts['record-copies-new'] ? Number((((nodeCounts['record-copies-new'] ?? 0) + (nodeCounts['record-copies-dup'] ?? 0)) / nodeCounts['record-copies-new']).toFixed(2)) : null,
      dials,
      /** Held-off dials let go because enough links had come up meanwhile (dial-policy.ts). */
      dialsDropped,
      /** Dials sent straight to the mesh address a peer's record names (no DHT lookup first). */
      directDials,
      directFallbacks,
      swarmConnects: swarm,
      silentLinksClosed,
      /** Summed over agents: refutations, probe failures, dropped input... (messages-in is the total of frames handled). */
      meshCounts: nodeCounts,
      logCounts,
      elapsedSinceStartMs: Date.now() - t0,
    })
    if (silentSamples.length > 0) emit({ bench: 'live.silentLinks', n, samples: silentSamples.map(({ peer, inbound, framesOut, rawBytesRead, rawBytesWritten, remote, time }) => ({ peer: String(peer).slice(0, 8), inbound, framesOut, rawBytesRead, rawBytesWritten, remote, time })) })
  } catch (err) {
    emit({ bench: 'live.join', n, error: (err as Error).message })
  } finally {
    abort.abort()
    await Promise.all(clients.map((c) => c.close()))
    await cluster.stop()
  }
}

/**
 * The same mesh with every agent in this one process: no process start-up and no wait for
 * the kernel to schedule the receiving process on every hop, so it shows what the protocol
 * and hyperswarm themselves take.
 */
async function runOneProcess(n: number): Promise<void> {
  const bootstrap = await startBootstrapNode()
  const members = Array.from({ length: n }, (_, i) => ({ id: `n${i}`, identity: nodeIdentity(randomBytes(32)) }))
  const roster = new Roster(members.map((m) => ({ id: m.id, key: m.identity.publicKey })))
  const config = meshConfig({}, 'shared')
  const runtimes: MeshRuntime[] = []
  try {
    const t0 = Date.now()
    const knowAt: number[] = []
    const allKnow = new Promise<void>((resolve) => {
      for (const m of members) {
        const transport = new SwarmTransport({
          selfId: m.id,
          identity: m.identity,
          roster,
          clusterId: `bench-${n}`,
          bootstrap: [parseHostPort(bootstrap.address)],
          host: '127.0.0.1',
          seedDegree: 3,
          maxDegree: config.maxDegree,
          targetDegree: config.targetDegree,
          maxBadFramesPerPeer: config.maxBadFramesPerPeer,
        })
        const node = new MeshNode(
          { self: { id: m.id, image: 'v1', phase: 'ready', domain: 'd', inv: {}, health: { status: 'unknown', conditions: [] }, comps: [] }, config, roster, keyring: m.identity.keyring, rng: systemRng },
          Date.now(),
        )
        const rt = new MeshRuntime(m.id, node, transport, realClock)
        let done = false
        rt.on('event', (e) => {
          if (done || e.type !== 'record') return
          if (rt.view().filter((v) => v.record).length >= n) {
            done = true
            knowAt.push(Date.now() - t0)
            if (knowAt.length === n) resolve()
          }
        })
        runtimes.push(rt)
      }
    })
    await Promise.all(runtimes.map((r) => r.start()))
    let fullKnowledgeMs: number | null = null
    try {
      await withDeadline(allKnow, ONE_PROCESS_DEADLINE_MS, 'full knowledge')
      fullKnowledgeMs = Math.max(...knowAt)
    } catch {
      // reported as null
    }
    emit({
      bench: 'live.join.oneProcess',
      n,
      fullKnowledgeMs,
      agentsKnowingAll: knowAt.length,
      knowP50Ms: knowAt.length ? quantile(knowAt, 0.5) : null,
      rssMbWholeProcess: Number((process.memoryUsage().rss / 2 ** 20).toFixed(1)),
      load1AtStart: Number(loadavg()[0]?.toFixed(1)),
    })
  } finally {
    await Promise.all(runtimes.map((r) => r.close()))
    await bootstrap.close()
  }
}

// One process with many swarms is CPU-bound past ~20 on 2 cores: measure the smallest size only.
// SHOAL_BENCH_ONE_PROCESS=0 skips it (quicker iterations on the multi-process figures).
if (process.env.SHOAL_BENCH_ONE_PROCESS !== '0') await runOneProcess(Math.min(...ns))
for (const n of ns) await run(n)
