/**
 * The agent's start: CPU from process start to "agent ready" (its own process.cpuUsage(),
 * logged in the ready line as startCpuMs), for each way of shipping the agent, in one run,
 * interleaved so that the machine's load falls on all of them alike:
 *   tsx          node --import tsx agent/bin.ts (a checkout)
 *   demo-bundle  the ESM bundle `npm start` and bench/live.ts run (packages left in node_modules; sim/demo/agent-launcher.ts)
 *   esm-bundle   one ESM bundle with pure-JS packages inlined (layers/bundle.ts, with its deferrals; the worker's until now)
 *   cjs-bundle   one CommonJS bundle started by the code-cache loader, without its cache
 *   code-cache   the same with its V8 code cache (layers/code-cache.ts; what the worker ships)
 *   code-cache-host-env  the same, in this shell's environment (below)
 * One JSON line per variant, {"bench":"start.agent","variant":..,"cpuMs":{min,p50,max},"ratioToTsx":..},
 * and one summary line with the cache's status as the agent reported it. Target: code-cache
 * p50 <= 250 ms natively. The agents join a private bootstrap node on loopback (a one-node
 * mesh): "ready" includes binding the DHT and the API, as on a worker.
 *
 *   npx tsx bench/start.ts [RUNS]     RUNS per variant, default 7
 *
 * The agents run in a worker's environment, not this shell's: variables that make node itself work
 * harder at every start are left out (WORKER_ENV_DROPPED). On this host NODE_EXTRA_CA_CERTS names
 * the system's ~140 CA certificates, which node parses before it runs any JavaScript: ~50-70 ms of
 * CPU per process; a worker's service sets no such variable. The `code-cache-host-env` variant
 * starts the shipped agent with this shell's environment, for comparison.
 *
 * Env: SHOAL_BENCH_CPU_PROF=DIR makes the code-cache variant's agents write V8 CPU profiles there,
 * with the bundle's source map; `npx tsx bench/start-profile.ts DIR` says where the start went.
 */
import { spawn } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { NATIVE_PACKAGES, bundle } from '../layers/bundle.js'
import { bundleWithCodeCache } from '../layers/code-cache.js'
import { AGENT_EARLY_BUILTINS, AGENT_SERVICE_NODE_FLAGS, AGENT_SIDE_BUNDLES } from '../layers/specs/worker.js'
import { agentLauncher } from '../sim/demo/agent-launcher.js'
import { LocalCluster } from '../sim/demo/local-cluster.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const runs = Number(process.argv[2] ?? 7)
const READY_DEADLINE_MS = 60_000
const emit = (obj: object) => process.stdout.write(JSON.stringify(obj) + '\n')
/** What a worker's service does not set and this host may: node reads them before the agent runs. */
const WORKER_ENV_DROPPED = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS'] as const
const hostEnv = { ...process.env, NODE_NO_WARNINGS: '1' }
const workerEnv = Object.fromEntries(Object.entries(hostEnv).filter(([k]) => !(WORKER_ENV_DROPPED as readonly string[]).includes(k)))

// The bundles live in the checkout (.cache is shared by worktrees; a pid keeps runs apart), so the
// natives left external resolve from its node_modules, as they do from /usr/lib/shoal/node_modules on a worker.
const dir = await mkdtemp(join(root, '.cache', 'bench-start-'))
const cluster = await LocalCluster.create({ nodes: 1, bootstrapInProcess: true, logLevel: 'info' })
try {
  const esm = join(dir, 'shoal-agent.mjs')
  await bundle({ entry: join(root, 'agent/bin.ts'), outFile: esm, external: NATIVE_PACKAGES })
  const entry = join(root, 'layers/entries/shoal-agent.ts')
  const plain = await bundleWithCodeCache({ entry, dir: join(dir, 'plain'), name: 'shoal-agent', external: NATIVE_PACKAGES, sideBundles: AGENT_SIDE_BUNDLES, noCache: true })
  const profDir = process.env.SHOAL_BENCH_CPU_PROF
  const cached = await bundleWithCodeCache({ entry, dir: join(dir, 'cached'), name: 'shoal-agent', external: NATIVE_PACKAGES, nodeFlags: AGENT_SERVICE_NODE_FLAGS, builtins: AGENT_EARLY_BUILTINS, sideBundles: AGENT_SIDE_BUNDLES, sourcemap: !!profDir })
  // The profiles name places in the minified bundle: its source map (kept beside them) names the modules.
  if (profDir) await mkdir(profDir, { recursive: true }).then(() => copyFile(`${cached.bundle}.map`, join(profDir, 'shoal-agent.bundle.cjs.map')))
  const variants: Record<string, string[]> = {
    tsx: ['--import', 'tsx', join(root, 'agent/bin.ts')],
    'demo-bundle': await agentLauncher(),
    'esm-bundle': [esm],
    'cjs-bundle': [plain.loader],
    'code-cache': [cached.loader],
    'code-cache-host-env': [cached.loader],
  }
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((v) => [v, []]))
  const statuses = new Set<string>()
  const config = cluster.agents[0]!.configFile
  const prof = (name: string) => (profDir && name === 'code-cache' ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [])
  for (let r = 0; r < runs; r++) {
    for (const [name, args] of Object.entries(variants)) {
      const ready = await startOnce([...AGENT_SERVICE_NODE_FLAGS, ...prof(name), ...args, '--config', config], name === 'code-cache-host-env' ? hostEnv : workerEnv)
      cpu[name]!.push(ready.startCpuMs)
      if (name === 'code-cache') statuses.add(ready.codeCache ?? 'none')
    }
  }
  const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const tsx = p50(cpu.tsx!)
  for (const [name, xs] of Object.entries(cpu)) {
    emit({ bench: 'start.agent', variant: name, runs, cpuMs: { min: Math.min(...xs), p50: p50(xs), max: Math.max(...xs) }, ratioToTsx: Math.round((p50(xs) / tsx) * 100) / 100 })
  }
  emit({
    bench: 'start.agent.summary',
    codeCacheP50Ms: p50(cpu['code-cache']!),
    targetMs: 250,
    met: p50(cpu['code-cache']!) <= 250,
    codeCacheStatus: [...statuses],
    bundleBytes: cached.bundleBytes,
    cacheBytes: cached.cacheBytes,
    sideBundles: cached.sides.map((x) => ({ pkg: x.pkg, bundleBytes: x.bundleBytes, cacheBytes: x.cacheBytes })),
    nodeFlags: AGENT_SERVICE_NODE_FLAGS,
    envDropped: WORKER_ENV_DROPPED.filter((k) => process.env[k] !== undefined),
    codeCacheHostEnvP50Ms: p50(cpu['code-cache-host-env']!),
    load1: Math.round(loadavg()[0]! * 10) / 10,
  })
} finally {
  await cluster.stop()
  await rm(dir, { recursive: true, force: true })
}

/** Starts one agent, resolves with its ready line's figures, and stops it (its stdin closes: exitWithStdin). */
function startOnce(args: string[], env: NodeJS.ProcessEnv): Promise<{ startCpuMs: number; codeCache?: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env })
    const tail: string[] = []
    let ready: { startCpuMs: number; codeCache?: string } | undefined
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error(`no "agent ready" in ${READY_DEADLINE_MS} ms:\n${tail.join('\n')}`))
    }, READY_DEADLINE_MS)
    createInterface({ input: proc.stderr! }).on('line', (l) => tail.push(l))
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      tail.push(line)
      let msg: Record<string, unknown>
      try {
        msg = JSON.parse(line) as Record<string, unknown>
      } catch {
        return
      }
      if (msg.msg !== 'agent ready') return
      clearTimeout(timer)
      ready = { startCpuMs: Number(msg.startCpuMs), ...(typeof msg.codeCache === 'string' ? { codeCache: msg.codeCache } : {}) }
      proc.stdin!.end()
    })
    proc.once('exit', (code, signal) => {
      clearTimeout(timer)
      if (ready) resolve(ready)
      else reject(new Error(`the agent exited (${signal ?? code}) before it was ready:\n${tail.join('\n')}`))
    })
  })
}
