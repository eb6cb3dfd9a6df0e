/**
 * The coordinator's cluster page during a wave, in headless Chromium: the `npm start --
 * --wave` cluster (sim/demo WaveDemo: the real coordinator, agents in their own processes,
 * a fake Kubernetes API), a K=1 wave to v2.0.0, and the page's timeline showing each
 * node's reboot as it happens, slots and holders, and every node done at the end — without
 * a reload. Screenshot: .cache/cluster-page-wave.png.
 */
import { spawn } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import { writeOperatorKey } from '../cli/operator-key.js'
import { WaveDemo } from '../sim/demo/wave-demo.js'
import { hasChromium, launchChromium } from '../harness/chromium.js'

const chromiumInstalled = await hasChromium()
if (!chromiumInstalled) console.log("skipping test/cluster-page-wave.test.ts: no chromium (npm run setup installs Debian's chromium)")

const SHOTS = fileURLToPath(new URL('../.cache/', import.meta.url))
const SHOAL = fileURLToPath(new URL('../bin/shoal.js', import.meta.url))
const N = 3

describe.skipIf(!chromiumInstalled)('the cluster page on the coordinator during a wave', () => {
  let demo: WaveDemo | undefined
  let browser: Browser | undefined
  const pageErrors: string[] = []
  afterAll(async () => {
    await browser?.close()
    await demo?.stop()
  })

  it('fills the timeline with each node\'s reboot and ends with every node done', async () => {
    demo = await WaveDemo.create(N, { reboot: () => {}, error: () => {} })
    // An operator on the agents' roster, for one shell session before the wave.
    const keyFile = join(demo.dir, 'alice.key')
    const alice = await writeOperatorKey(keyFile)
    const roster = JSON.parse(await readFile(demo.cluster.rosterFile, 'utf8')) as object
    await writeFile(demo.cluster.rosterFile, JSON.stringify({ ...roster, operators: [{ name: 'alice', key: alice }] }))
    for (let i = 0; i < N; i++) await demo.cluster.start(i)
    browser = await launchChromium()
    const page = await browser.newPage({ viewport: { width: 1400, height: 700 } })
    page.on('pageerror', (err) => pageErrors.push(err.message))
    await page.goto(`${demo.url}/`)
    // The coordinator's mesh peer sees every worker.
    for (const a of demo.cluster.agents) await page.locator(`#nodes tr[data-node="${a.id}"][data-status="alive"]`).waitFor({ timeout: 90_000 })
    // A shell session on a worker is recorded by the coordinator (it hears it over the mesh) and listed on its page.
    const target = demo.cluster.agents[0]!
    const shell = spawn(process.execPath, [SHOAL, 'shell', target.id, '--agent', target.api!, '--key', keyFile, '--operator', 'alice', '--', 'echo', 'page-check'], { stdio: ['ignore', 'pipe', 'pipe'] })
    expect(await new Promise((resolve) => shell.on('close', resolve))).toBe(0)
    const d = demo
    const audited = async () => ((await d.call('GET', '/v1/admin/audit?kind=shell')) as { entries: { node?: string; detail?: { command?: string[] } }[] }).entries
    for (let until = Date.now() + 30_000; !(await audited()).some((e) => e.node === target.id && e.detail?.command?.join(' ') === 'echo page-check'); ) {
      if (Date.now() > until) throw new Error('the coordinator did not record the shell session within 30 s')
      await new Promise((r) => setTimeout(r, 200))
    }
    await page.click(`#nodes tr[data-node="${target.id}"]`)
    await page.locator('#detail table.shells td', { hasText: 'echo page-check' }).waitFor({ timeout: 30_000 })
    await demo.settled()
    const lines: string[] = []
    const wave = demo.runWave(1, (l) => lines.push(l), 420_000)
    await page.locator('#wave:not([hidden])').waitFor({ timeout: 30_000 })
    // Each node reboots in turn: a rebooting bar appears in its row while the wave runs.
    try {
      for (const a of demo.cluster.agents) await page.locator(`#timeline .trow[data-node="${a.id}"] .bar.rebooting`).waitFor({ timeout: 360_000 })
    } catch (err) {
      await page.screenshot({ path: `${SHOTS}cluster-page-wave-failed.png`, fullPage: true }).catch(() => {})
      throw new Error(`${(err as Error).message}\nwave so far:\n${lines.join('\n')}\npage timeline:\n${await page.locator('#wave').innerText()}`)
    }
    const status = await wave
    expect(status.state, lines.join('\n')).toBe('done')
    for (const a of demo.cluster.agents) await page.locator(`#timeline .trow[data-node="${a.id}"][data-state="done"] .bar.done`).waitFor({ timeout: 30_000 })
    expect(await page.locator('#wave-summary').innerText()).toMatch(/done/)
    // Never more than K=1 holder in the summary's slot list (what the page shows of the budget).
    expect(await page.locator('#wave-summary').innerText()).toMatch(/slots in use 0\/1/)
    await mkdir(SHOTS, { recursive: true })
    await page.screenshot({ path: `${SHOTS}cluster-page-wave.png`, fullPage: true })
    expect(pageErrors).toEqual([])
  }, 600_000)
})
