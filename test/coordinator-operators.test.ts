/**
 * Operators on the coordinator: `shoal coordinator operator add|remove|list` through the
 * admin API, the roster that carries them (signed, only when asked: agents that predate
 * the field keep accepting the plain roster), a worker's roster sync writing them into its
 * roster file, the audit entries, and a restart keeping them.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startRosterSync } from '../agent/boot/roster-sync.js'
import { ed25519Keyring } from '../agent/protocol/ed25519.js'
import { RosterFile } from '../agent/protocol/roster.js'
import { main } from '../cli/main.js'
import { RosterBody, verifyRoster } from '../agent/protocol/enroll/index.js'
import { startTestCoordinator, type TestCoordinator } from '../coordinator/testing.js'

let h: TestCoordinator
let dir: string
afterEach(async () => {
  await h?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

describe('operators on the coordinator', () => {
  it('adds and removes operators (audited, roster version bumped); the roster lists them only when asked', async () => {
    h = await startTestCoordinator()
    dir = await mkdtemp(join(tmpdir(), 'shoal-ops-'))
    const admin = ['--url', h.url, '--admin-token', h.adminToken]
    expect((await cli(['coordinator', 'operator', 'keygen', join(dir, 'alice')])).code).toBe(0)
    const v0 = h.coordinator.state.rosterVersion
    const added = await cli(['coordinator', 'operator', 'add', 'alice', '--key', join(dir, 'alice.pub'), ...admin])
    expect(added).toMatchObject({ code: 0 })
    const alicePub = (await readFile(join(dir, 'alice.pub'), 'utf8')).trim()
    expect(h.coordinator.state.rosterVersion).toBe(v0 + 1)

    const plain = (await (await fetch(`${h.url}/v1/roster`)).json()) as Record<string, unknown>
    expect(plain).not.toHaveProperty('operators')
    // What an agent that predates operators checks: the strict body without the new field.
    const { signature: _sig, ...plainBody } = plain
    expect(RosterBody.omit({ operators: true }).strict().safeParse(plainBody).success).toBe(true)
    const withOps = await (await fetch(`${h.url}/v1/roster?operators=1`)).json()
    const verified = verifyRoster(withOps, h.coordinator.state.publicKey, h.coordinator.state.clusterId)
    expect(verified.ok && verified.value.operators).toEqual([{ name: 'alice', key: alicePub }])
    // A tampered operator list does not verify.
    expect(verifyRoster({ ...withOps, operators: [{ name: 'mallory', key: alicePub }] }, h.coordinator.state.publicKey).ok).toBe(false)

    const list = await cli(['coordinator', 'operator', 'list', '-o', 'json', ...admin])
    expect(JSON.parse(list.out)).toMatchObject([{ name: 'alice', key: alicePub }])
    expect((await cli(['coordinator', 'operator', 'remove', 'alice', ...admin])).code).toBe(0)
    expect((await cli(['coordinator', 'operator', 'remove', 'alice', ...admin])).code).toBe(1)
    const after = await (await fetch(`${h.url}/v1/roster?operators=1`)).json()
    expect(after.operators).toEqual([])
    const audit = await cli(['coordinator', 'audit', '--kind', 'operator', '-o', 'json', ...admin])
    expect((JSON.parse(audit.out) as { detail: { action: string; name: string } }[]).map((e) => [e.detail.action, e.detail.name])).toEqual([
      ['add', 'alice'],
      ['remove', 'alice'],
    ])
    const bad = await cli(['coordinator', 'operator', 'add', 'alice', '--key', join(dir, 'missing.pub'), ...admin])
    expect(bad).toMatchObject({ code: 2, err: expect.stringMatching(/cannot read the public key/) })
  })

  it("a worker's roster sync writes the operators into its roster file, even at an unchanged version; they survive a restart", async () => {
    h = await startTestCoordinator()
    dir = await mkdtemp(join(tmpdir(), 'shoal-ops-'))
    const op = ed25519Keyring(Buffer.alloc(32, 7))
    const res = await fetch(`${h.url}/v1/admin/operators`, { method: 'POST', headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ops@site', key: op.publicKey }) })
    expect(res.status).toBe(200)
    await h.restart()
    const pin = { coordinator: h.url, cluster: h.coordinator.state.clusterId, clusterKey: h.coordinator.state.publicKey }
    const file = join(dir, 'roster.json')
    await writeFile(file, JSON.stringify({ cluster: pin.cluster, members: [] }))
    let wrote!: () => void
    const written = new Promise<void>((r) => (wrote = r))
    const stop = startRosterSync({ pin, rosterFile: file, version: h.coordinator.state.rosterVersion, intervalMs: 20, timeoutMs: 5000, log: (l) => l.startsWith('roster v') && wrote() })
    try {
      await written
      const parsed = RosterFile.parse(JSON.parse(await readFile(file, 'utf8')))
      expect(parsed.operators).toEqual([{ name: 'ops@site', key: op.publicKey }])
    } finally {
      stop()
    }
  })
})
