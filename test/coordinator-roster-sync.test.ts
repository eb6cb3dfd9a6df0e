/**
 * A worker's roster-sync service against the real coordinator over HTTP: it rewrites the
 * roster file when a machine enrolls, polls an unchanged roster for a 304 (no body, no
 * signature check: cheap on a slow worker), and refuses a roster signed for another cluster.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { fetchRosterIfChanged, startRosterSync } from '../agent/boot/roster-sync.js'
import { postJson, startTestCoordinator, testMachine, tokenFromScript, type TestCoordinator } from '../coordinator/testing.js'

let h: TestCoordinator
let dir: string
afterEach(async () => {
  await h?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

async function enrollMachine(n: number): Promise<void> {
  const m = testMachine(n)
  const token = tokenFromScript(await (await fetch(`${h.url}/boot/ipxe?mac=${m.mac}`)).text())
  expect((await postJson(`${h.url}/v1/enroll`, m.request(token))).status).toBe(200)
}

/** Resolves with the first log line matching re; rejects after ms. */
function lines() {
  const seen: string[] = []
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = []
  return {
    log: (l: string) => {
      seen.push(l)
      for (const w of [...waiters]) if (w.re.test(l)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(l))
    },
    waitFor: (re: RegExp, ms = 10_000) =>
      new Promise<string>((resolve, reject) => {
        const hit = seen.find((l) => re.test(l))
        if (hit) return resolve(hit)
        const t = setTimeout(() => reject(new Error(`no roster-sync line matching ${re} within ${ms} ms; saw: ${seen.join(' | ')}`)), ms)
        waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) })
      }),
  }
}

describe('roster sync (worker service) against the coordinator', () => {
  it('rewrites the roster file when a machine enrolls; an unchanged roster is a 304', async () => {
    h = await startTestCoordinator()
    dir = await mkdtemp(join(tmpdir(), 'shoal-roster-sync-'))
    const pin = { coordinator: h.url, cluster: h.coordinator.state.clusterId, clusterKey: h.coordinator.state.publicKey }
    await enrollMachine(1)
    const first = (await fetchRosterIfChanged(pin, 5000, undefined))!
    expect(first.etag).toBeTruthy()
    expect(await fetchRosterIfChanged(pin, 5000, first.etag)).toBeUndefined()

    const out = lines()
    const stop = startRosterSync({ pin, rosterFile: join(dir, 'roster.json'), version: 0, intervalMs: 20, timeoutMs: 5000, log: out.log })
    try {
      await out.waitFor(new RegExp(`roster v${first.roster.version}:`))
      await enrollMachine(2)
      await out.waitFor(new RegExp(`roster v${first.roster.version + 1}:.*node-0002`))
      const file = JSON.parse(await readFile(join(dir, 'roster.json'), 'utf8')) as { members: { id: string }[] }
      expect(file.members.map((m) => m.id)).toEqual(expect.arrayContaining(['node-0001', 'node-0002']))
      const signed = JSON.parse(await readFile(join(dir, 'roster.signed.json'), 'utf8')) as { version: number }
      expect(signed.version).toBe(first.roster.version + 1)
    } finally {
      stop()
    }
  })

  it('refuses a roster that does not verify against the pinned cluster key, and keeps the file it has', async () => {
    h = await startTestCoordinator()
    const pin = { coordinator: h.url, cluster: h.coordinator.state.clusterId, clusterKey: 'ab'.repeat(32) }
    await expect(fetchRosterIfChanged(pin, 5000, undefined)).rejects.toMatchObject({ code: 'bad-roster' })
    const out = lines()
    dir = await mkdtemp(join(tmpdir(), 'shoal-roster-sync-'))
    const stop = startRosterSync({ pin, rosterFile: join(dir, 'roster.json'), version: 0, intervalMs: 20, timeoutMs: 5000, log: out.log })
    try {
      await out.waitFor(/roster refresh failed: .*refused/)
      await expect(readFile(join(dir, 'roster.json'), 'utf8')).rejects.toThrow(/ENOENT/)
    } finally {
      stop()
    }
  })
})
