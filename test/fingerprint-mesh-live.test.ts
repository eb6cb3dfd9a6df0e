/**
 * Known fingerprints travel through the mesh, end to end: two real agents (hyperswarm on
 * loopback, in this process). Agent B publishes its component digest in its record; agent
 * A hears it and serves it from GET /v1/fingerprints — alive while B runs (a clone of B is
 * refused B's id), not alive once B is gone. B's machine then reboots with a swapped NIC,
 * the coordinator unreachable, asks A (shoal.peers=) and gets B's id back.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AgentClient } from '../agent/api/index.js'
import { runBoot } from '../agent/boot/boot-sequence.js'
import { readMachineIdentity, type MachineIdentity } from '../agent/boot/machine-identity.js'
import { fetchPeerFingerprints } from '../agent/boot/peer-client.js'
import { cmdline, fakeBoot } from '../agent/boot/test-fixtures.js'
import { parseMeshFingerprints, writeFakeSysfs } from '../agent/fingerprint/index.js'
import type { RunningAgent } from '../agent/main.js'
import { mutateMachine, syntheticMachine } from '../sim/synthetic-machines.js'
import { untilAgentSees } from './support/agent-view.js'
import { InProcessCluster } from './support/in-process-cluster.js'

/** Resolves once `api` holds `id` with `want(status)` true (from its watch stream); rejects at the deadline. */
function watchFor(api: string, id: string, want: (status: string) => boolean, deadlineMs: number): Promise<void> {
  return untilAgentSees(
    api,
    (view) => {
      const v = view.get(id)
      return v !== undefined && want(v.status)
    },
    deadlineMs,
    `${id} in the wanted state`,
  )
}

async function fingerprintsOf(api: string) {
  const client = new AgentClient(api)
  try {
    const parsed = parseMeshFingerprints(await client.fingerprints())
    if (!parsed.ok) throw new Error(parsed.detail)
    return parsed.entries
  } finally {
    await client.close()
  }
}

describe('known fingerprints through a live mesh', () => {
  let dir: string
  let cluster: InProcessCluster
  let a: RunningAgent
  let b: RunningAgent | undefined
  let before: MachineIdentity
  let after: MachineIdentity

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-fp-live-'))
    let i = 0
    while (syntheticMachine(i, 3).profile !== 'supermicro') i++
    const m = syntheticMachine(i, 3)
    await mkdir(join(dir, 'proc'))
    await writeFakeSysfs(join(dir, 'before'), m.hardware)
    await writeFakeSysfs(join(dir, 'after'), mutateMachine(m, 'nic-replaced', 3)!.hardware)
    before = await readMachineIdentity(join(dir, 'before'), join(dir, 'proc'))
    after = await readMachineIdentity(join(dir, 'after'), join(dir, 'proc'))

    cluster = await InProcessCluster.create('fp', [{ id: 'node-a' }, { id: before.fingerprint.id }])
    a = await cluster.start(0, { comps: ['nic:aaaaaaaaaaaaaaaa', 'disk:aaaaaaaaaaaaaaaa'] })
    b = await cluster.start(1, { comps: before.fingerprint.comps })
    await watchFor(a.api, before.fingerprint.id, (s) => s === 'alive', 60_000)
  }, 90_000)

  afterAll(async () => {
    await cluster?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it("an agent serves the digest of a node it heard about through the mesh; a clone of a live node is refused its id", async () => {
    const entries = await fingerprintsOf(a.api)
    expect(entries.find((e) => e.id === before.fingerprint.id)).toMatchObject({ comps: before.fingerprint.comps, alive: true })
    expect(entries.find((e) => e.id === 'node-a')).toMatchObject({ comps: ['nic:aaaaaaaaaaaaaaaa', 'disk:aaaaaaaaaaaaaaaa'], alive: true })

    // A second machine with B's exact hardware boots while B runs: not B's id.
    const f = fakeBoot()
    f.ports.readCmdline = async () => `${cmdline} shoal.peers=${a.api}`
    f.ports.identify = async () => before
    f.ports.askPeer = (address) => fetchPeerFingerprints(address, { timeoutMs: 5000, maxBytes: 1 << 20 })
    const r = await runBoot(f.ports, f.cfg, '/new_root')
    expect(r.peers.decision).toBe('new')
    expect(r.id).not.toBe(before.fingerprint.id)
  })

  it('B goes down; its machine reboots with a new NIC while the coordinator is unreachable and gets its old id from A', async () => {
    await b!.close()
    b = undefined
    await watchFor(a.api, before.fingerprint.id, (s) => s !== 'alive', 60_000)
    expect((await fingerprintsOf(a.api)).find((e) => e.id === before.fingerprint.id)).toMatchObject({ alive: false })

    const f = fakeBoot({ retryJitter: 0 })
    f.ports.readCmdline = async () => `${cmdline} shoal.peers=${a.api}`
    f.ports.identify = async () => after
    f.ports.askPeer = (address) => fetchPeerFingerprints(address, { timeoutMs: 5000, maxBytes: 1 << 20 })
    f.coordinator.downCalls = 3
    const r = await runBoot(f.ports, f.cfg, '/new_root')
    expect(after.fingerprint.id).not.toBe(before.fingerprint.id)
    expect(r.peers).toMatchObject({ answered: 1, decision: 'matched', id: before.fingerprint.id })
    expect(r.id).toBe(before.fingerprint.id)
    expect(f.sleeps).toHaveLength(3)
  }, 90_000)
})
