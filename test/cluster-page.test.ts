/**
 * The cluster page in a real browser (Debian's headless Chromium via playwright-core), on
 * a running local cluster (sim/demo LocalCluster: agents in their own processes over
 * hyperswarm on loopback): every node is listed, a killed worker turns dead on the page
 * without a reload, filtering and sorting work, and a node's detail shows its inventory,
 * health and shell sessions. A screenshot goes to .cache/cluster-page.png.
 */
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalCluster } from '../sim/demo/local-cluster.js'
import { hasChromium, launchChromium } from '../harness/chromium.js'

const chromiumInstalled = await hasChromium()
if (!chromiumInstalled) console.log('skipping test/cluster-page.test.ts: no chromium (npm run setup installs Debian\'s chromium)')

const SHOTS = fileURLToPath(new URL('../.cache/', import.meta.url))
const N = 3

describe.skipIf(!chromiumInstalled)('the cluster page on a live agent', () => {
  let cluster: LocalCluster
  let browser: Browser
  let page: Page
  const pageErrors: string[] = []

  beforeAll(async () => {
    cluster = await LocalCluster.create({ nodes: N })
    for (let i = 0; i < N; i++) await cluster.start(i)
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    page.on('pageerror', (err) => pageErrors.push(err.message))
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await cluster?.stop()
  })

  it('lists every node live, filters and sorts, and shows a node in detail', async () => {
    await page.goto(`http://${cluster.agents[0]!.api}/`)
    for (const a of cluster.agents) await page.locator(`#nodes tr[data-node="${a.id}"][data-status="alive"]`).waitFor({ timeout: 60_000 })
    await page.locator('#live.on').waitFor()
    expect(await page.locator('#nodes tbody tr').count()).toBe(N)

    const ids = cluster.agents.map((a) => a.id).sort()
    await page.click('th[data-key="id"]') // already by id: now descending
    expect(await page.locator('#nodes tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-node')))).toEqual([...ids].reverse())
    await page.fill('#filter', ids[1]!)
    expect(await page.locator('#nodes tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-node')))).toEqual([ids[1]])
    await page.fill('#filter', '')

    await page.click(`#nodes tr[data-node="${cluster.agents[1]!.id}"]`)
    await page.locator('#detail h3', { hasText: 'inventory' }).waitFor()
    const detail = await page.locator('#detail').innerText()
    expect(detail).toContain(cluster.agents[1]!.id)
    expect(detail).toMatch(/memory/)
    expect(detail).toMatch(/recent shell sessions/)
  }, 120_000)

  it('shows a killed worker turn dead without a reload', async () => {
    const victim = cluster.agents[N - 1]!
    const navigations: string[] = []
    page.on('framenavigated', (f) => navigations.push(f.url()))
    await cluster.kill(N - 1)
    await page.locator(`#nodes tr[data-node="${victim.id}"][data-status="dead"]`).waitFor({ timeout: 90_000 })
    await page.locator('#events li.dead', { hasText: victim.id }).waitFor()
    expect(navigations).toEqual([])
    await mkdir(SHOTS, { recursive: true })
    await page.screenshot({ path: `${SHOTS}cluster-page.png`, fullPage: true })
    expect(pageErrors).toEqual([])
  }, 120_000)
})
