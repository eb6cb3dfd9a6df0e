/**
 * The remote shell and the cluster page, one JSON line per figure:
 * - shell round trip on loopback: one keystroke sent on channel 0 to `cat` in a pty,
 *   until its echo comes back on channel 1 (p50/p99 over --keys samples), plus the time
 *   to open a session (grant check, upgrade, pty spawn);
 * - the page: load time in headless Chromium until every node row is shown (median of
 *   --loads), and the agent's extra RSS and CPU with 5 pages open for --hold-s seconds
 *   versus none (agents are separate processes: /proc/PID figures).
 * Chromium missing: the page figures are skipped with one line on stderr.
 * Run: npx tsx bench/shell.ts [--keys 300] [--loads 5] [--hold-s 30]
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { openShell } from '../agent/api/shell-client.js'
import { resolveAgentConfig } from '../agent/config.js'
import { startAgent } from '../agent/main.js'
import { startBootstrapNode } from '../agent/mesh/index.js'
import { ed25519Keyring, publicKeyHexFromSeed } from '../agent/protocol/ed25519.js'
import { signGrant } from '../agent/protocol/shell-grant.js'
import { MESH_TIMINGS } from '../agent/protocol/mesh-config.js'
import { LocalCluster } from '../sim/demo/local-cluster.js'
import { hasChromium, launchChromium } from '../harness/chromium.js'

const { values } = parseArgs({ options: { keys: { type: 'string', default: '300' }, loads: { type: 'string', default: '5' }, 'hold-s': { type: 'string', default: '30' } } })
const KEYS = Number(values.keys)
const LOADS = Number(values.loads)
const HOLD_MS = Number(values['hold-s']) * 1000
const out = (o: object) => process.stdout.write(JSON.stringify(o) + '\n')
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!
const round = (x: number) => Math.round(x * 100) / 100

async function shellRoundTrip(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-shell-'))
  const bootstrap = await startBootstrapNode()
  const seed = randomBytes(32).toString('hex')
  const op = ed25519Keyring(randomBytes(32))
  const cluster = `bench-${randomBytes(3).toString('hex')}`
  await writeFile(join(dir, 'roster.json'), JSON.stringify({ cluster, members: [{ id: 'n0', key: publicKeyHexFromSeed(Buffer.from(seed, 'hex')) }], operators: [{ name: 'bench', key: op.publicKey }] }))
  const agent = await startAgent(
    resolveAgentConfig({ cluster, nodeId: 'n0', seedHex: seed, rosterFile: join(dir, 'roster.json'), bootstrap: [bootstrap.address], meshHost: '127.0.0.1', apiPort: 0, collectInventory: false, mesh: MESH_TIMINGS.shared.mesh }),
    { logger: pino({ level: 'silent' }) },
  )
  try {
    const grant = () => {
      const now = Date.now()
      return signGrant({ v: 1, node: 'n0', operator: 'bench', key: op.publicKey, command: ['cat'], issuedAt: now, expiresAt: now + 60_000, nonce: randomBytes(16).toString('hex') }, op)
    }
    const opens: number[] = []
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now()
      let first!: () => void
      const ready = new Promise<void>((r) => (first = r))
      const c = await openShell({ address: agent.api, token: grant(), tty: true }, { stdout: () => first(), stderr: () => {} })
      c.write('x')
      await ready
      opens.push(performance.now() - t0)
      c.write('\x04\x04') // the first ^D hands "x" to cat, the second is its end of file
      await c.done
    }
    out({ metric: 'shell_open_to_first_echo_ms', p50: round(pct(opens, 50)), max: round(Math.max(...opens)), n: opens.length })

    let waiter: (() => void) | undefined
    let got = ''
    const c = await openShell({ address: agent.api, token: grant(), tty: true }, { stdout: (d) => ((got += d.toString()), waiter?.()), stderr: () => {} })
    const samples: number[] = []
    for (let i = 0; i < KEYS + 20; i++) {
      const ch = String.fromCharCode(97 + (i % 26))
      got = ''
      const t0 = performance.now()
      await new Promise<void>((resolve) => {
        waiter = () => got.includes(ch) && resolve()
        c.write(ch)
      })
      if (i >= 20) samples.push(performance.now() - t0) // the first keystrokes warm the JIT
    }
    c.write('\x04\x04')
    await c.done
    out({ metric: 'shell_keystroke_echo_ms', p50: round(pct(samples, 50)), p99: round(pct(samples, 99)), max: round(Math.max(...samples)), n: samples.length, note: 'loopback, ws + node-pty, cat in a pty' })
  } finally {
    await agent.close()
    await bootstrap.close()
    await rm(dir, { recursive: true, force: true })
  }
}

/** utime+stime of a process, ms (10 ms ticks). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * 10
}
async function rssBytes(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? 0) * 1024
}

async function page(): Promise<void> {
  if (!(await hasChromium())) {
    process.stderr.write('skipping the page figures: no chromium (npm run setup installs it)\n')
    return
  }
  const N = 5
  const cluster = await LocalCluster.create({ nodes: N })
  const browser = await launchChromium()
  try {
    for (let i = 0; i < N; i++) await cluster.start(i)
    const a = cluster.agents[0]!
    const pid = a.proc!.pid!
    const url = `http://${a.api}/`
    const loads: number[] = []
    for (let i = 0; i < LOADS + 1; i++) {
      const p = await browser.newPage()
      const t0 = performance.now()
      await p.goto(url)
      await p.waitForFunction((n) => document.querySelectorAll('#nodes tbody tr[data-status="alive"]').length >= n, N, { timeout: 60_000 })
      if (i > 0) loads.push(performance.now() - t0) // the first load warms the agent's file cache
      await p.close()
    }
    out({ metric: 'page_load_to_all_nodes_ms', p50: round(pct(loads, 50)), max: round(Math.max(...loads)), n: loads.length, nodes: N })
    const bytes = (await Promise.all(['/', '/page/app.js', '/page/app.css'].map(async (f) => (await (await fetch(`http://${a.api}${f}`)).arrayBuffer()).byteLength))).reduce((x, y) => x + y, 0)
    out({ metric: 'page_bytes', value: bytes })

    // Idle baseline, then 5 pages open (each holds a watch stream and polls /v1/self every 2 s).
    const hold = async () => {
      const c0 = cpuMs(pid)
      const t0 = Date.now()
      await new Promise((r) => setTimeout(r, HOLD_MS))
      return { cpuPct: (100 * (cpuMs(pid) - c0)) / (Date.now() - t0), rss: await rssBytes(pid) }
    }
    const idle = await hold()
    const pages = await Promise.all(Array.from({ length: 5 }, () => browser.newPage()))
    await Promise.all(pages.map((p) => p.goto(url)))
    const open = await hold()
    out({ metric: 'agent_rss_bytes', idle: idle.rss, with5Pages: open.rss, extra: open.rss - idle.rss, target: 50 * 2 ** 20 })
    out({ metric: 'agent_cpu_percent', idle: round(idle.cpuPct), with5Pages: round(open.cpuPct), extra: round(open.cpuPct - idle.cpuPct), holdS: HOLD_MS / 1000 })
  } finally {
    await browser.close()
    await cluster.stop()
  }
}

await shellRoundTrip()
await page()
process.exit(0)
