/**
 * Health benchmark: (1) one full probe cycle (kubelet + Kubernetes API + Ceph CLI) against a
 * real Ceph cluster and the fake API server, median of several, for the routine health round
 * and for the pre-reboot gate round (which adds ok-to-stop and the drain plan); (2) the
 * steady-state CPU and RSS of a process running the probes every 5 s (bounded, 40 s default),
 * each for both Ceph transports: the librados session (default) and one `ceph` CLI per command.
 *
 *   npx tsx bench/health.ts            # ~2.5 min on 2 cores
 *   SHOAL_BENCH_SECONDS=20 npx tsx bench/health.ts
 *
 * Prints one JSON object per line per figure. Needs the ceph packages (npm run setup).
 */
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { HealthMonitor } from '../agent/health/health-monitor.js'
import { HealthSources } from '../agent/health/health-sources.js'
import { CephSession } from '../agent/health/ceph-session.js'
import type { Purpose } from '../agent/health/health-observer.js'
import { FakeKubeApiServer } from '../sim/fakes/kube-api-server.js'
import { CephCluster, hasCeph } from '../harness/ceph-cluster.js'

const cycles = Number(process.env.SHOAL_BENCH_CYCLES ?? 5)
const steadySeconds = Number(process.env.SHOAL_BENCH_SECONDS ?? 40)
const intervalMs = 5000

interface ChildArgs {
  conf: string
  keyring: string
  kubeconfig: string
  kubeletUrl: string
  seconds: number
  transport: 'session' | 'cli'
}

if (process.argv[2] === '--steady') await steady(JSON.parse(process.argv[3]!) as ChildArgs)
else await parent()

async function parent(): Promise<void> {
  if (!(await hasCeph())) {
    console.log(JSON.stringify({ bench: 'health', skipped: 'ceph daemons not installed (npm run setup)' }))
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-health-'))
  const cluster = new CephCluster({ hosts: ['node-a', 'node-b', 'node-c'] })
  const api = new FakeKubeApiServer()
  const kubelet = createServer((_q, r) => r.end('ok'))
  try {
    const t0 = performance.now()
    await cluster.start()
    console.log(JSON.stringify({ bench: 'health.ceph-harness-start', ms: Math.round(performance.now() - t0), loadavg1: +loadavg()[0]!.toFixed(2) }))
    await api.start()
    for (const n of cluster.hosts) api.addNode({ name: n })
    for (let i = 0; i < 30; i++) api.addPod({ name: `web-${i}`, node: cluster.hosts[i % 3]!, labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-rs' } })
    for (const n of cluster.hosts) api.addPod({ name: `proxy-${n}`, namespace: 'kube-system', node: n, owner: { kind: 'DaemonSet', name: 'proxy' } })
    api.addPdb({ name: 'web-pdb', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 3 })
    const kubeconfig = join(dir, 'kubeconfig')
    writeFileSync(kubeconfig, api.kubeconfig())
    await new Promise<void>((r) => kubelet.listen(0, '127.0.0.1', () => r()))
    const kubeletUrl = `http://127.0.0.1:${(kubelet.address() as { port: number }).port}/healthz`

    for (const transport of ['session', 'cli'] as const) {
    const sources = new HealthSources({ cephConf: cluster.conf, cephKeyring: cluster.keyring, kubeconfig, kubeletUrl, cephTransport: transport })
    const observer = sources.observer('node-a')
    for (const purpose of ['health', 'pre'] as Purpose[]) {
      await observer.observe(purpose) // warm-up
      const rounds: Awaited<ReturnType<typeof observer.observe>>["ms"][] = []
      for (let i = 0; i < cycles; i++) rounds.push((await observer.observe(purpose)).ms)
      const med = (k: 'total' | 'ceph' | 'kube' | 'kubelet') => Math.round(median(rounds.map((r) => r[k])))
      const totals = rounds.map((r) => r.total)
      console.log(JSON.stringify({
        bench: 'health.cycle', purpose, cephTransport: transport, n: cycles, p50Ms: med('total'), minMs: Math.round(Math.min(...totals)), maxMs: Math.round(Math.max(...totals)),
        cephP50Ms: med('ceph'), kubeP50Ms: med('kube'), kubeletP50Ms: med('kubelet'), loadavg1: +loadavg()[0]!.toFixed(2),
      }))
    }
    await sources.close()
    }

    // Steady state in a separate process, so its RSS and CPU are the probes' alone.
    for (const transport of ['session', 'cli'] as const) {
    const args: ChildArgs = { conf: cluster.conf, keyring: cluster.keyring, kubeconfig, kubeletUrl, seconds: steadySeconds, transport }
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--steady', JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (b) => (out += b))
    await new Promise((r) => child.once('exit', r))
    process.stdout.write(out)
    }
  } finally {
    kubelet.close()
    await api.close()
    await cluster.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Child: a HealthMonitor every 5 s for `seconds`; reports its own CPU (and its ceph children's) and RSS. */
async function steady(a: ChildArgs): Promise<void> {
  const sources = new HealthSources({ cephConf: a.conf, cephKeyring: a.keyring, kubeconfig: a.kubeconfig, kubeletUrl: a.kubeletUrl, cephTransport: a.transport })
  const monitor = new HealthMonitor(sources.observer('node-a'), { clock: { now: () => Date.now() }, intervalMs })
  await monitor.runOnce() // warm-up: module loading and JIT are not steady state
  const ceph = sources.ceph
  const helperPid = 'cli' in ceph && ceph.cli instanceof CephSession ? ceph.cli.pid : undefined
  const stat = (pid: number | 'self') => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  const ticks = () => {
    // fields after "(comm) ": state=0 ... utime=11 stime=12 cutime=13 cstime=14 (clock ticks, 100/s)
    const f = stat('self')
    // The session helper is not reaped while it runs, so its CPU is read from its own /proc entry.
    const h = helperPid ? stat(helperPid) : undefined
    return { self: +f[11]! + +f[12]!, children: +f[13]! + +f[14]! + (h ? +h[11]! + +h[12]! : 0) }
  }
  const rss: number[] = []
  const helperRss: number[] = []
  const vmRss = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
  const c0 = ticks()
  const t0 = performance.now()
  const r0 = monitor.rounds
  monitor.start()
  const sampler = setInterval(() => {
    rss.push(process.memoryUsage().rss)
    if (helperPid) helperRss.push(vmRss(helperPid))
  }, 1000)
  await new Promise((r) => setTimeout(r, a.seconds * 1000))
  clearInterval(sampler)
  monitor.close()
  const c1 = ticks()
  const wall = (performance.now() - t0) / 1000
  const pct = (t: number) => +((t / 100 / wall) * 100).toFixed(2)
  console.log(JSON.stringify({
    bench: 'health.steady', cephTransport: a.transport, intervalMs, seconds: Math.round(wall), rounds: monitor.rounds - r0,
    cpuPctAgent: pct(c1.self - c0.self), cpuPctWithCephHelpers: pct(c1.self - c0.self + c1.children - c0.children),
    rssMbP50: +(median(rss) / 2 ** 20).toFixed(1), rssMbMax: +(Math.max(...rss) / 2 ** 20).toFixed(1),
    ...(helperPid ? { helperRssMbP50: +(median(helperRss) / 2 ** 20).toFixed(1) } : {}), loadavg1: +loadavg()[0]!.toFixed(2),
  }))
  await sources.close()
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
