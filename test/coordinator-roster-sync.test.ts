/**
 * A worker's roster-sync service against the real coordinator over HTTP: it rewrites the
 * roster file when a machine enrolls, polls an unchanged roster for a 304 (no body, no
 * signature check: cheap on a slow worker), and refuses a roster signed for another cluster.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { fetchRosterIfChanged, startRosterSync, startWorkerRosterSync } from '../agent/boot/roster-sync.js'
import { postJson, startTestCoordinator, testMachine, tokenFromScript, type TestCoordinator } from '../coordinator/testing.js'

let h: TestCoordinator | undefined
let dir: string
afterEach(async () => {
  await h?.close()
  h = undefined
  if (dir) await rm(dir, { recursive: true, force: true })
})

async function startCoordinator(): Promise<TestCoordinator> {
  h = await startTestCoordinator()
  return h
}

function coordinator(): TestCoordinator {
  if (!h) throw new Error('no test coordinator started')
  return h
}

async function enrollMachine(n: number): Promise<void> {
  const m = testMachine(n)
  const token = tokenFromScript(await (await fetch(`${coordinator().url}/boot/ipxe?mac=${m.mac}`)).text())
  expect((await postJson(`${coordinator().url}/v1/enroll`, m.request(token))).status).toBe(200)
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
    const h = await startCoordinator()
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
    const h = await startCoordinator()
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

  it("in the worker's agent: syncs the roster beside the config from the cluster.json the boot agent wrote, first after one period", async () => {
    const h = await startCoordinator()
    dir = await mkdtemp(join(tmpdir(), 'shoal-roster-sync-'))
    await enrollMachine(1)
    // The shape agent/boot/node-files.ts writes.
    await writeFile(join(dir, 'cluster.json'), JSON.stringify({ cluster: h.coordinator.state.clusterId, clusterKey: h.coordinator.state.publicKey, coordinator: h.url, bootstrap: [] }))
    const out = lines()
    const stop = await startWorkerRosterSync(dir, out.log, 50)
    expect(stop).toBeTypeOf('function')
    try {
      expect(await out.waitFor(/^keeping .*roster\.json current from http.* \(now v0\)$/)).toContain(join(dir, 'roster.json'))
      await out.waitFor(/roster v\d+: \d+ members \(.*node-0001/)
      await enrollMachine(2)
      await out.waitFor(/roster v\d+: .*node-0002/)
      const file = JSON.parse(await readFile(join(dir, 'roster.json'), 'utf8')) as { members: { id: string }[] }
      expect(file.members.map((m) => m.id)).toEqual(expect.arrayContaining(['node-0001', 'node-0002']))
    } finally {
      stop!()
    }
  })

  it('does nothing without a cluster.json (an agent not booted by a coordinator), and says why for a bad one', async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-roster-sync-'))
    const out = lines()
    expect(await startWorkerRosterSync(dir, out.log, 20)).toBeUndefined()
    await writeFile(join(dir, 'cluster.json'), '{"cluster": "c", "coordinator": 5}')
    expect(await startWorkerRosterSync(dir, out.log, 20)).toBeUndefined()
    expect(await out.waitFor(/not syncing the roster: .*cluster\.json is invalid: coordinator, cluster and clusterKey must be strings/)).toBeTruthy()
    await writeFile(join(dir, 'cluster.json'), 'not json')
    expect(await startWorkerRosterSync(dir, out.log, 20)).toBeUndefined()
    await out.waitFor(/cluster\.json is invalid: .*JSON/)
  })
})
