/**
 * Decommission retires a node's id (docs/node-verbs.md, "A machine that comes back"): the
 * operator chooses at decommission whether its machine, if it boots again, is refused
 * (`--returning refuse`, the default) or enrolls as a new machine (`--returning new`). The
 * choice is stored by the coordinator (level: it survives a restart), enforced at
 * enrollment (403 `retired`, audited, nothing else stored), listed by `shoal coordinator
 * retired` and lifted by `shoal coordinator forget-retired NODE`.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { EnrollPending, EnrollResponse, ErrorBody } from '../agent/protocol/enroll/index.js'
import { postJson, startTestCoordinator, testMachine, tokenFromScript, type TestCoordinator } from '../coordinator/testing.js'
import { startWaveHarness, type WaveHarness } from '../coordinator/waves/wave-testing.js'
import { shoalAgainst } from './support/shoal-cli.js'

let h: TestCoordinator | undefined
let w: WaveHarness | undefined
afterEach(async () => {
  await h?.close()
  await w?.close()
  h = undefined
  w = undefined
})

type Machine = ReturnType<typeof testMachine>

async function enrollAt(url: string, m: Machine, extra: Parameters<Machine['request']>[1] = {}): Promise<{ status: number; json: any }> {
  const script = await (await fetch(`${url}/boot/ipxe?mac=${encodeURIComponent(m.mac)}`)).text()
  return postJson(`${url}/v1/enroll`, m.request(tokenFromScript(script), extra))
}
const adminOf = (c: TestCoordinator) => (path: string, body?: unknown) =>
  body === undefined
    ? fetch(`${c.url}${path}`, { headers: { authorization: `Bearer ${c.adminToken}` } }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }))
    : postJson(`${c.url}${path}`, body, { authorization: `Bearer ${c.adminToken}` })

/** The stored state without the audit log (a refusal writes one bounded audit line and nothing else). */
async function stateWithoutAudit(c: TestCoordinator): Promise<[string, unknown][]> {
  // Tokens are issued per boot script; the refusal itself must not touch them.
  return (await c.coordinator.dumpState()).filter(([k]) => !k.startsWith('audit!'))
}

/** Decommission's end, as the verb's wave carries it out: removeNode with the retirement. */
async function retire(c: TestCoordinator, id: string, returning: 'new' | 'refuse'): Promise<void> {
  await c.coordinator.state.removeNode(id, 'decommission (test)', { returning, wave: 'w9' })
}

describe('a decommissioned machine that comes back: refused', () => {
  it('is refused with 403 retired and an audit line, also with a NIC swapped; the refusal survives a restart; forget-retired lets it in as new', async () => {
    h = await startTestCoordinator()
    const admin = adminOf(h)
    const a = testMachine(1)
    const b = testMachine(2)
    const idA = EnrollResponse.parse((await enrollAt(h.url, a)).json).id
    expect((await enrollAt(h.url, b)).status).toBe(200)
    await retire(h, idA, 'refuse')
    expect((await admin('/v1/admin/retired')).json.retired).toEqual([expect.objectContaining({ id: idA, returning: 'refuse', by: 'decommission (test)', wave: 'w9', macs: [a.mac] })])

    // It boots again (RAM-only: a fresh key). Its boot script is served (the MAC may be
    // any machine's); its enrollment is refused and changes nothing but the audit log.
    const again = testMachine(1)
    const before = await stateWithoutAudit(h)
    const r = await enrollAt(h.url, again, { publicKey: testMachine(51).keyring.publicKey })
    expect(r.status).toBe(403)
    expect(ErrorBody.parse(r.json).error).toMatchObject({ code: 'retired', message: expect.stringContaining(`shoal coordinator forget-retired ${idA}`) })
    const after = await stateWithoutAudit(h)
    expect(after.filter(([k]) => !k.startsWith('token!'))).toEqual(before.filter(([k]) => !k.startsWith('token!')))
    // …and its token stays unused (a refusal does not spend it).
    const token = tokenFromScript(await (await fetch(`${h.url}/boot/ipxe?mac=${a.mac}`)).text())
    expect((await postJson(`${h.url}/v1/enroll`, again.request(token))).json.error.code).toBe('retired')
    expect((await postJson(`${h.url}/v1/enroll`, again.request(token))).json.error.code).toBe('retired')

    // The same machine with its NIC swapped (another MAC, one part changed) is still recognised.
    const swapped = testMachine(61, { comps: a.comps.map((c) => (c.startsWith('nic:') ? 'nic:replaced' : c)), mac: '52:54:00:99:00:61' })
    const s = await enrollAt(h.url, swapped, { fingerprint: { id: 'node-guess', comps: a.comps.map((c) => (c.startsWith('nic:') ? 'nic:replaced' : c)) } })
    expect(s.json.error?.code).toBe('retired')
    // A machine that merely proposes the retired id (shoal.node_id=) is the same claim.
    const named = testMachine(62)
    expect((await enrollAt(h.url, named, { fingerprint: { id: idA, comps: named.comps } })).json.error?.code).toBe('retired')

    const audit = (await admin('/v1/admin/audit?kind=refused')).json.entries
    expect(audit).toEqual([expect.objectContaining({ node: idA, mac: a.mac, detail: expect.objectContaining({ what: 'retired', code: 'retired' }) })])
    expect((await admin('/v1/admin/retired')).json.retired[0].refused).toMatchObject({ count: 5 })

    // A live node is never refused, even if it shares parts with the retired one.
    const bShares = testMachine(2, { comps: [...b.comps, a.comps[2]!] })
    expect((await enrollAt(h.url, bShares)).status).toBe(200)

    // Durable: a restarted coordinator still refuses it.
    await h.restart()
    expect((await enrollAt(h.url, again)).json.error?.code).toBe('retired')

    // Lifted: audited, and the machine enrolls at its next try as a new machine with its id.
    expect((await admin('/v1/admin/forget-retired', { node: idA })).json).toEqual({ forgotten: idA })
    expect((await admin('/v1/admin/audit?kind=forget-retired')).json.entries).toEqual([expect.objectContaining({ node: idA, detail: expect.objectContaining({ returning: 'refuse', retiredBy: 'decommission (test)' }) })])
    expect((await admin('/v1/admin/retired')).json.retired).toEqual([])
    expect(EnrollResponse.parse((await enrollAt(h.url, again)).json)).toMatchObject({ id: idA, identity: 'new' })
    const notRetired = await admin('/v1/admin/forget-retired', { node: idA })
    expect(notRetired.status).toBe(404)
    expect(notRetired.json.error.message).toMatch(/is not retired \(retired now: none/)
  })

  it('in approval mode it is refused outright, not queued for approval; a request that waited is refused once its machine is retired', async () => {
    h = await startTestCoordinator({ config: { approval: 'new-fingerprints', joinTokenTtlMs: 60_000 } })
    const admin = adminOf(h)
    const a = testMachine(1)
    const t1 = tokenFromScript(await (await fetch(`${h.url}/boot/ipxe?mac=${a.mac}`)).text())
    const p = EnrollPending.parse((await postJson(`${h.url}/v1/enroll`, a.request(t1))).json)
    await admin('/v1/admin/approve', { requestId: p.requestId })
    const id = EnrollResponse.parse((await postJson(`${h.url}/v1/enroll`, a.request(t1))).json).id
    await retire(h, id, 'refuse')
    expect((await enrollAt(h.url, testMachine(1))).json.error?.code).toBe('retired')
    expect((await admin('/v1/admin/pending')).json.pending).toEqual([])

    // A stranger waits for approval; the operator approves it, then a decommission of its
    // twin retires those parts before the machine asks again: the later decision wins.
    const c = testMachine(3)
    const t3 = tokenFromScript(await (await fetch(`${h.url}/boot/ipxe?mac=${c.mac}`)).text())
    const p3 = EnrollPending.parse((await postJson(`${h.url}/v1/enroll`, c.request(t3))).json)
    await admin('/v1/admin/approve', { requestId: p3.requestId })
    h.coordinator.state.retired.set('node-0003', { id: 'node-0003', comps: c.comps, macs: [c.mac], returning: 'refuse', at: 0, by: 'test' })
    expect((await postJson(`${h.url}/v1/enroll`, c.request(t3))).json.error?.code).toBe('retired')
  })
})

describe('a decommissioned machine that comes back: new', () => {
  it('enrolls as a new machine (approval mode: it waits like a stranger); its retirement is spent, the enrollment audit names it', async () => {
    h = await startTestCoordinator()
    const admin = adminOf(h)
    const a = testMachine(1)
    const id = EnrollResponse.parse((await enrollAt(h.url, a)).json).id
    await retire(h, id, 'new')
    await h.restart()
    expect((await admin('/v1/admin/retired')).json.retired).toEqual([expect.objectContaining({ id, returning: 'new' })])
    const r = EnrollResponse.parse((await enrollAt(h.url, testMachine(1))).json)
    expect(r).toMatchObject({ id, identity: 'new' })
    expect((await admin('/v1/admin/retired')).json.retired).toEqual([])
    const enrolls = (await admin('/v1/admin/audit?kind=enroll')).json.entries
    expect(enrolls.at(-1)).toMatchObject({ node: id, detail: { identity: 'new', returningRetired: { id, retiredBy: 'decommission (test)' } } })
    expect((await admin('/v1/admin/nodes')).json.nodes.find((n: { id: string }) => n.id === id).enrollments).toBe(1)
  })

  it('under approval, a machine retired with new waits for approval as any new machine', async () => {
    h = await startTestCoordinator({ config: { approval: 'new-fingerprints' } })
    const admin = adminOf(h)
    const a = testMachine(1)
    const t = tokenFromScript(await (await fetch(`${h.url}/boot/ipxe?mac=${a.mac}`)).text())
    await admin('/v1/admin/approve', { requestId: EnrollPending.parse((await postJson(`${h.url}/v1/enroll`, a.request(t))).json).requestId })
    const id = EnrollResponse.parse((await postJson(`${h.url}/v1/enroll`, a.request(t))).json).id
    await retire(h, id, 'new')
    const again = await enrollAt(h.url, testMachine(1))
    expect(again.status).toBe(202)
    expect((await admin('/v1/admin/pending')).json.pending).toEqual([expect.objectContaining({ proposedId: id, state: 'waiting' })])
  })
})

describe('shoal node decommission --returning, through the verb', () => {
  it('the verb retires the id with the choice (default refuse) when its wave is through; bad choices are refused up front', async () => {
    w = await startWaveHarness(3)
    const [a, b, c] = w.machines as [WaveHarness['machines'][number], WaveHarness['machines'][number], WaveHarness['machines'][number]]
    const svc = w.h.coordinator.waves.service
    const shoal = (...argv: string[]) => shoalAgainst(w, argv)

    // Bad input: a clear error, nothing started.
    expect((await w.admin(`/v1/nodes/${a.id}/decommission`, { returning: 'maybe' })).json.error).toMatchObject({ code: 'bad-request' })
    expect((await w.admin(`/v1/nodes/${a.id}/reboot`, { returning: 'new' })).status).toBe(400)
    expect(await shoal('node', 'decommission', a.id, '--returning', 'maybe')).toMatchObject({ code: 2, err: expect.stringContaining('--returning takes refuse') })
    expect(await shoal('node', 'reboot', a.id, '--returning', 'new')).toMatchObject({ code: 2, err: expect.stringContaining('--returning is for decommission only') })
    expect(await shoal('coordinator', 'forget-retired', 'bad id')).toMatchObject({ code: 2 })
    expect(await shoal('coordinator', 'forget-retired', 'node-7777')).toMatchObject({ code: 1, err: expect.stringContaining('is not retired') })
    expect((await w.admin('/v1/admin/forget-retired', { node: 'bad id' })).status).toBe(400)
    expect((await w.admin('/v1/admin/forget-retired', {})).status).toBe(400)
    expect((await w.admin('/v1/waves')).json.waves).toEqual([])

    // Default: refuse.
    const started = await shoal('node', 'decommission', c.id)
    expect(started).toMatchObject({ code: 0, out: expect.stringContaining(`refused (lift it: shoal coordinator forget-retired ${c.id})`) })
    await w.deliver(c, { k: 'grant', wave: 'w1', slot: 0, term: 1, holder: c.id, votes: 2 })
    w.members.set(c.id, { phase: 'leaving' })
    await w.deliver(c, { k: 'rel', wave: 'w1', slot: 0, term: 1, holder: c.id })
    await svc.tick()
    expect((await w.admin('/v1/waves/w1')).json.state).toBe('done')
    expect((await shoal('coordinator', 'retired')).out).toMatch(new RegExp(`${c.id}\\s+refused\\s+\\S+\\s+.*w1`))
    expect((await enrollAt(w.h.url, c)).json.error?.code).toBe('retired')
    expect((await w.admin('/v1/admin/audit?kind=remove')).json.entries[0]).toMatchObject({ node: c.id, detail: { retired: { returning: 'refuse' } } })

    // --returning new: the machine comes back as a new one.
    expect(await shoal('node', 'decommission', b.id, '--returning', 'new')).toMatchObject({ code: 0, out: expect.stringContaining('enrolls as a new machine') })
    await w.deliver(b, { k: 'grant', wave: 'w2', slot: 0, term: 1, holder: b.id, votes: 2 })
    w.members.set(b.id, { phase: 'leaving' })
    await w.deliver(b, { k: 'rel', wave: 'w2', slot: 0, term: 1, holder: b.id })
    await svc.tick()
    expect((await w.admin('/v1/waves/w2')).json.state).toBe('done')
    const list = JSON.parse((await shoal('coordinator', 'retired', '-o', 'json')).out)
    expect(list.map((r: { id: string; returning: string }) => [r.id, r.returning])).toEqual([[b.id, 'new'], [c.id, 'refuse']].sort())
    expect(EnrollResponse.parse((await enrollAt(w.h.url, b)).json)).toMatchObject({ id: b.id, identity: 'new' })

    expect(await shoal('coordinator', 'forget-retired', c.id)).toMatchObject({ code: 0, out: `${c.id} is no longer retired: its machine enrolls at its next try` })
    expect((await shoal('coordinator', 'retired')).out).toBe('no retired ids (shoal node decommission retires one)')
    expect((await enrollAt(w.h.url, c)).status).toBe(200)
  })
})
