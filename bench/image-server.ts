/**
 * Image server throughput: 50 concurrent clients each fetch a 256 MB layer over loopback,
 * from the shoal coordinator and from Debian's nginx serving the same file, in the same
 * run, alternating, so both see the same machine state. The client is one `curl
 * --parallel` process (C, discards the body), so the client costs both servers the same.
 *
 *   npx tsx bench/image-server.ts [--clients 50] [--size-mb 256] [--rounds 2] [--pin-cpu N]
 *
 * Prints one JSON object per line: one per server and round, then the summary with the
 * ratio shoal / nginx (best round of each). Bounded: every fetch round has a deadline and
 * the whole run stops after 170 s.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir, cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '50' },
    'size-mb': { type: 'string', default: '256' },
    rounds: { type: 'string', default: '2' },
    // Debian's nginx.conf says `worker_processes auto` (one per core): compare with that.
    'nginx-workers': { type: 'string', default: 'auto' },
    // Pin both servers to this one CPU (taskset): equal CPU for both, whatever else runs.
    'pin-cpu': { type: 'string' },
  },
})
const CLIENTS = Number(values.clients)
const SIZE_MB = Number(values['size-mb'])
const ROUNDS = Number(values.rounds)
const PIN_CPU = values['pin-cpu']
const NGINX_WORKERS = PIN_CPU !== undefined ? '1' : values['nginx-workers']!
/** Command and args, under `taskset -c CPU` when pinning. */
const pinned = (cmd: string, args: string[]): [string, string[]] => (PIN_CPU !== undefined ? ['taskset', ['-c', PIN_CPU, cmd, ...args]] : [cmd, args])
const DEADLINE_MS = 170_000
const started = Date.now()
const repo = fileURLToPath(new URL('..', import.meta.url))

function emit(o: object): void {
  process.stdout.write(JSON.stringify(o) + '\n')
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

async function waitHttp(url: string, child: ChildProcess, what: string): Promise<void> {
  const until = Date.now() + 30_000
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`)
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) })
      await r.arrayBuffer()
      if (r.status < 500) return
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${what} did not answer ${url} within 30 s`)
}

async function writeLayer(path: string, mb: number): Promise<void> {
  // Incompressible but cheap to make: one random MiB repeated.
  const block = randomBytes(1024 * 1024)
  const out = createWriteStream(path)
  for (let i = 0; i < mb; i++) if (!out.write(block)) await new Promise<void>((r) => out.once('drain', () => r()))
  await new Promise<void>((resolve, reject) => {
    out.once('error', reject)
    out.end(() => resolve())
  })
}

/** One round: CLIENTS parallel transfers of `url`; returns total bytes and wall seconds. */
function fetchRound(url: string): Promise<{ bytes: number; seconds: number; failed: number }> {
  const args = ['--silent', '--no-progress-meter', '--parallel', '--parallel-immediate', '--parallel-max', String(CLIENTS), '--write-out', '%{http_code} %{size_download}\\n']
  for (let i = 0; i < CLIENTS; i++) args.push('-o', '/dev/null', url)
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const curl = spawn('curl', args, { stdio: ['ignore', 'pipe', 'ignore'] })
    curl.on('error', reject)
    let out = ''
    curl.stdout.on('data', (c) => (out += c))
    const timer = setTimeout(() => curl.kill('SIGKILL'), Math.max(5_000, DEADLINE_MS - (Date.now() - started)))
    curl.on('close', () => {
      clearTimeout(timer)
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9
      let bytes = 0
      let failed = 0
      for (const line of out.trim().split('\n')) {
        const [code, size] = line.split(' ')
        if (code === '200') bytes += Number(size)
        else failed++
      }
      failed += CLIENTS - out.trim().split('\n').filter(Boolean).length
      resolve({ bytes, seconds, failed })
    })
  })
}

/** utime + stime of a process and its children (nginx workers), in seconds. */
async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (!pid) return 0
  let ticks = 0
  const visit = async (p: number): Promise<void> => {
    const stat = await readFile(`/proc/${p}/stat`, 'utf8').catch(() => '')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0)
    const kids = await readFile(`/proc/${p}/task/${p}/children`, 'utf8').catch(() => '')
    for (const k of kids.split(' ').filter(Boolean)) await visit(Number(k))
  }
  await visit(pid)
  return ticks / 100
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => {
      clearTimeout(t)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

/** Path of an executable on PATH (or the sbin dirs nginx lives in), or undefined. */
async function which(cmd: string): Promise<string | undefined> {
  const { access } = await import('node:fs/promises')
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin']) {
    const p = join(dir, cmd)
    if (await access(p).then(() => true, () => false)) return p
  }
  return undefined
}

async function main(): Promise<void> {
  const nginxBin = await which('nginx')
  if (!(await which('curl'))) {
    emit({ bench: 'image-server', skipped: 'curl is not installed (apt-get install curl); it is the load generator' })
    return
  }
  if (!nginxBin) emit({ bench: 'image-server', note: 'nginx is not installed (npm run setup installs nginx-light): measuring shoal alone, no ratio' })
  const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-img-'))
  let shoal: ChildProcess | undefined
  let nginx: ChildProcess | undefined
  const overall = setTimeout(() => {
    emit({ bench: 'image-server', error: `run exceeded ${DEADLINE_MS / 1000} s; stopping` })
    void Promise.all([stop(shoal), stop(nginx)]).then(() => process.exit(1))
  }, DEADLINE_MS + 5_000)
  try {
    const images = join(dir, 'images')
    await mkdir(join(images, 'v1'), { recursive: true })
    await writeLayer(join(images, 'v1', 'worker.squashfs'), SIZE_MB)
    await writeFile(join(images, 'v1', 'vmlinuz'), randomBytes(1024))
    await writeFile(join(images, 'v1', 'initramfs.img'), randomBytes(1024))

    const shoalPort = await freePort()
    shoal = spawn(
      ...pinned(process.execPath, [join(repo, 'bin/shoal.js'), 'coordinator', 'serve', '--data-dir', join(dir, 'data'), '--images-dir', images, '--http-port', String(shoalPort), '--dht-port=-1', '--bootstrap-advertise', '127.0.0.1:1']),
      { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SHOAL_LOG_LEVEL: 'warn' } },
    )
    const shoalUrl = `http://127.0.0.1:${shoalPort}/images/v1/worker.squashfs`
    await waitHttp(`http://127.0.0.1:${shoalPort}/healthz`, shoal, 'shoal coordinator')

    const nginxPort = await freePort()
    const prefix = join(dir, 'nginx')
    await mkdir(prefix, { recursive: true })
    const conf = `
user root;
worker_processes ${NGINX_WORKERS};
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  default_type application/octet-stream;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${nginxPort};
    root ${images};
    location /images/ { alias ${images}/; }
  }
}
`
    await writeFile(join(prefix, 'nginx.conf'), conf)
    const nginxUrl = `http://127.0.0.1:${nginxPort}/images/v1/worker.squashfs`
    if (nginxBin) {
      nginx = spawn(...pinned(nginxBin, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;']), { stdio: ['ignore', 'ignore', 'inherit'] })
      nginx.on('error', (err) => emit({ bench: 'image-server', error: `nginx: ${err.message}` }))
      await waitHttp(nginxUrl.replace('worker.squashfs', 'vmlinuz'), nginx, 'nginx')
    }

    // Warm the page cache and both servers once (small share of the file).
    await fetchRound(shoalUrl.replace('worker.squashfs', 'vmlinuz'))
    if (nginx) await fetchRound(nginxUrl.replace('worker.squashfs', 'vmlinuz'))

    const best: Record<string, number> = {}
    const cpuPerGB: Record<string, number[]> = { shoal: [], nginx: [] }
    let lastRoundS = 0
    for (let round = 1; round <= ROUNDS; round++) {
      // Both servers run in every round, or neither: never start a round that would not
      // finish inside the time bound (it would favour whichever server ran first).
      if (round > 1 && Date.now() - started + lastRoundS * 1000 * 1.3 > DEADLINE_MS) break
      lastRoundS = 0
      const servers = [['shoal', shoalUrl, shoal], ...(nginx ? [['nginx', nginxUrl, nginx]] : [])] as [string, string, ChildProcess][]
      for (const [server, url, child] of servers) {
        const cpu0 = await cpuSeconds(child.pid)
        const r = await fetchRound(url)
        const cpu = (await cpuSeconds(child.pid)) - cpu0
        lastRoundS += r.seconds
        const mbps = r.bytes / 1e6 / r.seconds
        best[server] = Math.max(best[server] ?? 0, mbps)
        if (r.bytes) cpuPerGB[server]!.push(cpu / (r.bytes / 1e9))
        emit({ bench: 'image-server', server, round, clients: CLIENTS, fileMB: SIZE_MB, bytes: r.bytes, failed: r.failed, seconds: +r.seconds.toFixed(3), MBps: Math.round(mbps), serverCpuSecondsPerGB: r.bytes ? +(cpu / (r.bytes / 1e9)).toFixed(3) : null, ...(server === 'nginx' ? { nginxWorkers: NGINX_WORKERS } : {}) })
      }
    }
    const minOf = (xs: number[]) => (xs.length ? +Math.min(...xs).toFixed(3) : null)
    emit({
      bench: 'image-server.ratio',
      clients: CLIENTS,
      fileMB: SIZE_MB,
      shoalMBps: Math.round(best.shoal ?? 0),
      nginxMBps: Math.round(best.nginx ?? 0),
      ratio: best.nginx ? +((best.shoal ?? 0) / best.nginx).toFixed(3) : null,
      target: 0.9,
      shoalCpuSecondsPerGB: minOf(cpuPerGB.shoal!),
      nginxCpuSecondsPerGB: minOf(cpuPerGB.nginx!),
      nginxWorkers: NGINX_WORKERS,
      ...(PIN_CPU !== undefined ? { pinnedCpu: PIN_CPU } : {}),
      cores: cpus().length,
      loadAverage1m: +loadavg()[0]!.toFixed(1),
      seconds: +((Date.now() - started) / 1000).toFixed(1),
    })
  } finally {
    clearTimeout(overall)
    await Promise.all([stop(shoal), stop(nginx)])
    await rm(dir, { recursive: true, force: true })
  }
}

main().catch((err) => {
  emit({ bench: 'image-server', error: (err as Error).message })
  process.exitCode = 1
})
