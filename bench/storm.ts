/**
 * Boot storm: N booting workers (separate node processes running the boot agent's layer
 * fetch path, bench/_storm-worker.ts) fetch one image version at once from a coordinator
 * whose uplink is a token bucket, first the way workers fetch today (every layer whole
 * from the coordinator: httpOnlyMs), then sharing chunks (allDoneMs), in the same run.
 *
 *   npm run bench -- storm            (N = 10, 25, 50)
 *   npx tsx bench/storm.ts [--workers 10,25,50] [--uplink-mib 4] [--image-mib 8] [--running K] [--detail] [--fetch-config JSON]
 *
 * One JSON line per N: {"bench":"storm","workers":N,"originShare","allDoneMs","httpOnlyMs",
 * "ratio","duplicateShare","fallbacks",...}. originShare = bytes the coordinator sent (all
 * of its answers, counted at the capped uplink) / bytes the workers needed. duplicateShare =
 * bytes received and thrown away (bad or cut-off chunks) / bytes needed. Targets at N=50:
 * originShare < 0.1, allDoneMs <= 0.25 x httpOnlyMs. Bounded: each storm has a deadline
 * (1.5x the whole-file storm's ideal time + 60 s), the whole run 540 s; every worker is
 * killed at the end.
 *
 * Each line also says what the workers waited on (waitsSummary: first chunk, the named running
 * workers' first answers, 503s, time with nothing asked, the slowest worker chunk by chunk) and
 * how late this process and the workers ran (coordLagMaxMs, afterMaxMs): enough to tell a
 * slow storm's cause from the host's load afterwards. --detail: the same for every worker.
 *
 * --running K (K > 0): after each N, one more shared storm with K workers already running
 * the image and serving it (the run-mode agent's layer-chunk route, capped at its default
 * 25 MiB/s scaled down like the uplink: 1 Gbit/s -> --uplink-mib), each booting worker told
 * of 3 of them as the boot script's shoal.peers= does; one more line with "variant":"running".
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import type { ChunkFetchWaits } from '../agent/boot/chunk-fetch-config.js'
import { ByteBucket } from '../agent/protocol/byte-bucket.js'
import { RUNNING_UPLOAD_BYTES_PER_SEC } from '../agent/api/layer-chunk-route.js'
import { BOOT_PEERS } from '../coordinator/boot-script.js'
import { bundle } from '../layers/bundle.js'
import { startTestCoordinator, type TestCoordinator } from '../coordinator/testing.js'

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '10,25,50' },
    'uplink-mib': { type: 'string', default: '4' },
    'image-mib': { type: 'string', default: '8' },
    // Tuning runs: the shared storm only (no httpOnlyMs, no ratio).
    'shared-only': { type: 'boolean', default: false },
    running: { type: 'string', default: '0' },
    // One more line per booting worker of each shared storm ("detail":"worker"): what it waited on, chunk by chunk.
    detail: { type: 'boolean', default: false },
    // Experiments: overrides of the booting workers' fetch tuning (chunkFetchDefaults), as JSON.
    'fetch-config': { type: 'string' },
  },
})
const COUNTS = values.workers!.split(',').map(Number)
const UPLINK = Number(values['uplink-mib']) * 1048576
const IMAGE_MIB = Number(values['image-mib'])
const RUNNING = Number(values.running)
const FETCH_CONFIG = values['fetch-config'] ? (JSON.parse(values['fetch-config']) as object) : undefined
/** A running worker's upload cap, scaled like the coordinator's uplink (1 Gbit/s -> UPLINK). */
const RUNNING_CAP = Math.round((RUNNING_UPLOAD_BYTES_PER_SEC * UPLINK) / 125_000_000)
const RUN_DEADLINE_MS = 540_000
const started = Date.now()
const repo = fileURLToPath(new URL('..', import.meta.url))
const emit = (o: object) => process.stdout.write(JSON.stringify(o) + '\n')

/** A TCP proxy in front of the coordinator: everything it sends to workers passes one token bucket (its uplink). */
async function uplink(target: number, bytesPerSec: number): Promise<{ port: number; sent: () => number; close: () => Promise<void> }> {
  const bucket = new ByteBucket(bytesPerSec, 256 * 1024, { now: () => Date.now() })
  let sent = 0
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const up = connect(target, '127.0.0.1')
    sockets.add(client).add(up)
    client.pipe(up)
    up.on('data', (chunk: Buffer) => {
      sent += chunk.length
      const wait = bucket.take(chunk.length)
      if (!client.write(chunk) || wait > 0) {
        up.pause()
        const resume = () => setTimeout(() => up.resume(), wait)
        if (client.writableNeedDrain) client.once('drain', resume)
        else resume()
      }
    })
    up.on('end', () => client.end())
    const drop = () => {
      client.destroy()
      up.destroy()
      sockets.delete(client)
      sockets.delete(up)
    }
    client.on('error', drop).on('close', drop)
    up.on('error', drop).on('close', drop)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return {
    port: (server.address() as { port: number }).port,
    sent: () => sent,
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((r) => server.close(() => r()))
    },
  }
}

interface WorkerResult {
  done: boolean
  ms: number
  /** From go to the manifest fetched and verified (shared storms). */
  manifestMs?: number
  cpuMs: number
  bytes: number
  originBytes: number
  peerBytes?: number
  wastedBytes?: number
  fallbacks?: number
  refusals?: number
  badChunks?: number
  races?: number
  busyToOrigin?: number
  /** The chunk fetch alone (from its start to its return, after the manifest). */
  fetchMs?: number
  waits?: ChunkFetchWaits
  error?: string
}

/**
 * What the workers of one storm waited on (ChunkFetchWaits, summed up): when the first chunk
 * came, 503s, time with nothing asked, where chunks came from, and the slowest worker in full.
 */
function waitsSummary(results: WorkerResult[]): object {
  const w = results.map((r, i) => ({ i, r, w: r.waits! })).filter((x) => x.w)
  if (w.length === 0) return {}
  const q = (xs: number[], f: number) => Math.round([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * f))]!)
  const first = w.map((x) => x.w.firstChunkMs)
  const idle = w.map((x) => x.w.idleMs)
  const slowest = w.reduce((a, b) => (b.r.ms > a.r.ms ? b : a))
  return {
    firstChunkP50Ms: q(first, 0.5),
    firstChunkMaxMs: Math.max(...first),
    // When the running workers named in shoal.peers= had all first answered (running storms only).
    ...(w.some((x) => x.w.namedHeardMs >= 0) ? { namedHeardP50Ms: q(w.map((x) => x.w.namedHeardMs), 0.5), namedHeardMaxMs: Math.max(...w.map((x) => x.w.namedHeardMs)) } : {}),
    busyAnswers: w.reduce((s, x) => s + x.w.busy, 0),
    idleP50Ms: q(idle, 0.5),
    idleMaxMs: Math.max(...idle),
    cappedChunks: w.reduce((s, x) => s + x.w.cappedChunks, 0),
    // From a worker's fetch returning to its result: the layers' whole hash, ~10 ms of CPU for 8 MiB. Seconds here
    // say the host starved the workers, whatever the fetch did.
    afterMaxMs: Math.round(Math.max(...w.map((x) => x.r.ms - (x.r.manifestMs ?? 0) - (x.r.fetchMs ?? 0)))),
    slowest: workerDetail(slowest.i, slowest.r),
  }
}

/** One worker's figures and what it waited on, its chunks as "src first-asked..verified xrequests" in verification order. */
function workerDetail(i: number, r: WorkerResult): object {
  const w = r.waits!
  return {
    worker: i,
    ms: Math.round(r.ms),
    manifestMs: Math.round(r.manifestMs ?? 0),
    firstChunkMs: w.firstChunkMs,
    namedHeardMs: w.namedHeardMs,
    // From the last chunk verified to the fetch's return, and from there to the worker's result (the layers' whole hash).
    closeMs: Math.round((r.fetchMs ?? 0) - Math.max(...w.chunks.map((c) => c[1]))),
    afterMs: Math.round(r.ms - (r.manifestMs ?? 0) - (r.fetchMs ?? 0)),
    idleMs: w.idleMs,
    busy: w.busy,
    refusals: r.refusals,
    races: r.races,
    busyToOrigin: r.busyToOrigin,
    fallbacks: r.fallbacks,
    chunks: w.chunks
      .map(([ask, done, src, n], g) => ({ g, ask, done, src, n }))
      .sort((a, b) => a.done - b.done)
      .map((c) => `${c.g}:${c.src} ${c.ask}..${c.done}${c.n > 1 ? ` x${c.n}` : ''}`),
  }
}

/** One storm: N worker processes, all told `go` at once; resolves when all reported. */
async function storm(mode: 'p2p' | 'http', n: number, workerJs: string, dir: string, running = 0): Promise<{ allDoneMs: number; results: WorkerResult[]; originSent: number; p50Ms: number; coordLagMaxMs: number; runningServedBytes: number; runningRefused: number; runningBusy: number }> {
  const coord: TestCoordinator = await startTestCoordinator({ images: {}, clock: { now: () => Date.now(), advance: () => undefined, set: () => undefined } })
  const children: ChildProcess[] = []
  const proxy = await uplink(Number(new URL(coord.url).port), UPLINK)
  try {
    // The same image bytes in every storm: copy the version into this coordinator's images dir.
    await mkdir(join(coord.imagesDir, 'v1'), { recursive: true })
    const { cp } = await import('node:fs/promises')
    await cp(join(dir, 'image'), join(coord.imagesDir, 'v1'), { recursive: true })
    const pin = { clusterKey: coord.coordinator.state.publicKey, cluster: coord.coordinator.state.clusterId, version: 'v1' }
    // Hash now (outside the timed storm), as a coordinator does at start.
    await (await fetch(`${coord.url}/images/v1/manifest?chunks=1`)).arrayBuffer()
    const url = `http://127.0.0.1:${proxy.port}`
    if (process.env.SHOAL_STORM_TRACE) process.stderr.write(`[storm] ${mode} N=${n}: coordinator ${coord.url}, its uplink ${url}\n`)
    // Workers that run the image already: serving before the storm starts.
    const runningAddrs: string[] = []
    const runningChildren: { child: ChildProcess; lines: ReturnType<typeof createInterface> }[] = []
    for (let i = 0; i < running; i++) {
      const job = { mode: 'running', coordinator: coord.url, pin, layerDir: join(dir, 'image'), manifestFile: join(dir, `running-${n}-${i}.json`), uploadBytesPerSec: RUNNING_CAP, seed: 7 + i }
      const child = spawn(process.execPath, [workerJs, JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'inherit'] })
      children.push(child)
      const lines = createInterface({ input: child.stdout! })
      runningChildren.push({ child, lines })
      const line = await new Promise<string>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`running worker ${i} exited with ${code} before it was ready`)))
        lines.once('line', resolve)
      })
      const o = JSON.parse(line) as { ready?: boolean; addr?: string; error?: string }
      if (!o.addr) throw new Error(`running worker ${i}: ${o.error ?? line}`)
      runningAddrs.push(o.addr)
    }
    const results: (WorkerResult | undefined)[] = new Array(n)
    const ready: Promise<void>[] = []
    const done: Promise<void>[] = []
    let goAt = 0
    const finishedAt: number[] = []
    for (let i = 0; i < n; i++) {
      const peers = runningAddrs.length ? Array.from({ length: Math.min(BOOT_PEERS, runningAddrs.length) }, (_, k) => runningAddrs[(i + k) % runningAddrs.length]!) : []
      const job = { mode, coordinator: url, pin, layerDir: join(dir, `${mode}-${n}-${i}`), seed: 1000 * n + i + 1, peers, ...(FETCH_CONFIG ? { config: FETCH_CONFIG } : {}) }
      // SHOAL_STORM_PROF=DIR: a CPU profile of every worker of the shared storms, for finding where their CPU goes.
      const prof = process.env.SHOAL_STORM_PROF && mode === 'p2p' ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SHOAL_STORM_PROF}`] : []
      const child = spawn(process.execPath, [...prof, workerJs, JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'inherit'] })
      children.push(child)
      const lines = createInterface({ input: child.stdout! })
      ready.push(
        new Promise((resolve, reject) => {
          child.once('exit', (code) => reject(new Error(`worker ${i} exited with ${code} before it was ready`)))
          lines.once('line', () => resolve())
        }),
      )
      done.push(
        new Promise((resolve, reject) => {
          lines.on('line', (l) => {
            const o = JSON.parse(l) as WorkerResult & { ready?: boolean }
            if (o.ready) return
            if (!o.done) return reject(new Error(`worker ${i}: ${o.error}`))
            results[i] = o
            finishedAt.push(Date.now() - goAt)
            resolve()
          })
          child.once('exit', (code) => reject(new Error(`worker ${i} exited with ${code}`)))
        }),
      )
    }
    await Promise.all(ready)
    const sent0 = proxy.sent()
    // Bounded by the whole-file storm's ideal time either way: a shared storm slower than that has failed anyway.
    const ideal = (n * IMAGE_MIB * 1048576 * 1000) / UPLINK
    const deadline = Math.min(ideal * 1.5 + 60_000, RUN_DEADLINE_MS - (Date.now() - started))
    // The coordinator (and the uplink proxy) run in this process: how late its event loop ran.
    const lag = monitorEventLoopDelay({ resolution: 20 })
    lag.enable()
    goAt = Date.now()
    for (const c of children) if (!runningChildren.some((r) => r.child === c)) c.stdin!.write('go\n')
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all(done),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${mode} storm of ${n} not done within ${Math.round(deadline / 1000)} s`)), deadline))),
    ]).finally(() => {
      clearTimeout(timer)
      lag.disable()
    })
    const allDoneMs = Date.now() - goAt
    finishedAt.sort((a, b) => a - b)
    let runningServedBytes = 0
    let runningRefused = 0
    let runningBusy = 0
    for (const { child, lines } of runningChildren) {
      const stats = new Promise<{ servedBytes?: number; refused?: number; busy?: number }>((resolve) => {
        lines.once('line', (l) => resolve(JSON.parse(l) as { servedBytes?: number; refused?: number; busy?: number }))
      })
      child.stdin!.write('stats\n')
      const st = await stats
      runningServedBytes += st.servedBytes ?? 0
      runningRefused += st.refused ?? 0
      runningBusy += st.busy ?? 0
    }
    return { allDoneMs, results: results as WorkerResult[], originSent: proxy.sent() - sent0, p50Ms: finishedAt[Math.floor(finishedAt.length / 2)]!, coordLagMaxMs: Math.round(lag.max / 1e6), runningServedBytes, runningRefused, runningBusy }
  } finally {
    for (const c of children) c.stdin?.end()
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve()
            const t = setTimeout(() => c.kill('SIGKILL'), 3000)
            c.once('exit', () => {
              clearTimeout(t)
              resolve()
            })
          }),
      ),
    )
    await proxy.close()
    await coord.close()
    for (let i = 0; i < n; i++) await rm(join(dir, `${mode}-${n}-${i}`), { recursive: true, force: true })
    for (let i = 0; i < running; i++) await rm(join(dir, `running-${n}-${i}.json`), { force: true })
  }
}

async function main(): Promise<void> {
  const shm = existsSync('/dev/shm') ? '/dev/shm' : tmpdir()
  const dir = await mkdtemp(join(shm, 'shoal-bench-storm-'))
  const overall = setTimeout(() => {
    emit({ bench: 'storm', error: `run exceeded ${RUN_DEADLINE_MS / 1000} s; stopping` })
    process.exit(1)
  }, RUN_DEADLINE_MS + 10_000)
  try {
    const workerJs = join(repo, '.cache/bench/storm-worker.mjs')
    await bundle({ entry: join(repo, 'bench/_storm-worker.ts'), outFile: workerJs })
    // Layers like a small worker image: three layers, incompressible.
    const img = join(dir, 'image')
    await mkdir(img, { recursive: true })
    const { writeFile } = await import('node:fs/promises')
    const parts = { 'base.squashfs': Math.round(IMAGE_MIB / 2), 'node.squashfs': Math.round(IMAGE_MIB / 3), 'worker.squashfs': IMAGE_MIB - Math.round(IMAGE_MIB / 2) - Math.round(IMAGE_MIB / 3) }
    for (const [name, mib] of Object.entries(parts)) await writeFile(join(img, name), randomBytes(mib * 1048576 - 4321))
    await writeFile(join(img, 'vmlinuz'), randomBytes(4096))
    await writeFile(join(img, 'initramfs.img'), randomBytes(4096))
    for (const n of COUNTS) {
      const http = values['shared-only'] ? undefined : await storm('http', n, workerJs, dir)
      const p2p = await storm('p2p', n, workerJs, dir)
      const needed = p2p.results.reduce((s, r) => s + r.bytes, 0)
      const sum = (k: keyof WorkerResult) => p2p.results.reduce((s, r) => s + ((r[k] as number | undefined) ?? 0), 0)
      emit({
        bench: 'storm',
        workers: n,
        originShare: +(p2p.originSent / needed).toFixed(4),
        allDoneMs: p2p.allDoneMs,
        httpOnlyMs: http?.allDoneMs ?? null,
        ratio: http ? +(p2p.allDoneMs / http.allDoneMs).toFixed(3) : null,
        duplicateShare: +(sum('wastedBytes') / needed).toFixed(4),
        fallbacks: sum('fallbacks'),
        refusals: sum('refusals'),
        badChunks: sum('badChunks'),
        races: sum('races'),
        busyToOrigin: sum('busyToOrigin'),
        p50Ms: p2p.p50Ms,
        manifestP50Ms: Math.round(p2p.results.map((r) => r.manifestMs ?? 0).sort((a, b) => a - b)[Math.floor(n / 2)]!),
        cpuMsPerWorker: Math.round(sum('cpuMs') / n),
        coordLagMaxMs: p2p.coordLagMaxMs,
        httpOnlyCpuMsPerWorker: http ? Math.round(http.results.reduce((s, r) => s + r.cpuMs, 0) / n) : null,
        httpOnlyP50Ms: http?.p50Ms ?? null,
        httpOnlyOriginShare: http ? +(http.originSent / needed).toFixed(4) : null,
        // The whole-file storm is paced by the uplink's timers in this process: a lagging loop slows it too.
        httpOnlyCoordLagMaxMs: http?.coordLagMaxMs ?? null,
        imageMiB: IMAGE_MIB,
        uplinkMiBps: UPLINK / 1048576,
        targets: { originShare: 0.1, ratio: 0.25 },
        ...waitsSummary(p2p.results),
        load1: +loadavg()[0]!.toFixed(1),
      })
      if (values.detail) p2p.results.forEach((r, i) => emit({ bench: 'storm', detail: 'worker', workers: n, ...workerDetail(i, r) }))
      if (RUNNING > 0) {
        const r = await storm('p2p', n, workerJs, dir, RUNNING)
        const need = r.results.reduce((s, x) => s + x.bytes, 0)
        const rsum = (k: keyof WorkerResult) => r.results.reduce((s, x) => s + ((x[k] as number | undefined) ?? 0), 0)
        emit({
          bench: 'storm',
          variant: 'running',
          workers: n,
          running: RUNNING,
          runningCapMiBps: +(RUNNING_CAP / 1048576).toFixed(2),
          originShare: +(r.originSent / need).toFixed(4),
          runningShare: +(r.runningServedBytes / need).toFixed(4),
          runningRefusedChunks: r.runningRefused,
          runningBusyAnswers: r.runningBusy,
          allDoneMs: r.allDoneMs,
          httpOnlyMs: http?.allDoneMs ?? null,
          ratio: http ? +(r.allDoneMs / http.allDoneMs).toFixed(3) : null,
          duplicateShare: +(rsum('wastedBytes') / need).toFixed(4),
          fallbacks: rsum('fallbacks'),
          refusals: rsum('refusals'),
          badChunks: rsum('badChunks'),
          races: rsum('races'),
          busyToOrigin: rsum('busyToOrigin'),
          p50Ms: r.p50Ms,
          manifestMaxMs: Math.round(Math.max(...r.results.map((x) => x.manifestMs ?? 0))),
          cpuMsPerWorker: Math.round(rsum('cpuMs') / n),
          coordLagMaxMs: r.coordLagMaxMs,
          ...waitsSummary(r.results),
          load1: +loadavg()[0]!.toFixed(1),
        })
        if (values.detail) r.results.forEach((x, i) => emit({ bench: 'storm', detail: 'worker', variant: 'running', workers: n, ...workerDetail(i, x) }))
      }
    }
  } finally {
    clearTimeout(overall)
    await rm(dir, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    emit({ bench: 'storm', error: (err as Error).message })
    process.exit(1)
  },
)
