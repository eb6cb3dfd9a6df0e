/**
 * What an agent publishes so that a wave which cannot move can say why: gate rounds over
 * a real Ceph 16 answer (two CRUSH hosts, pools at size 2 / min_size 2, ok-to-stop refused)
 * goes into the node's record as health.stop (the facts) and health.gates.why (the pre-gate's
 * reasons), and GET /v1/self's wave section names the cause that never clears and the fix.
 */
import { describe, expect, it } from 'vitest'
import { osdsUnder, type CephProbe, type CephSnapshot } from '../health/ceph-probe.js'
import { HealthObserver } from '../health/health-observer.js'
import { samples } from '../health/testdata/fixtures.js'
import { ed25519Keyring } from '../protocol/ed25519.js'
import type { HealthSummary } from '../protocol/node-record.js'
import type { MemberView, MeshEvent, NodeRecordBody, SelfPatch } from '../protocol/mesh-types.js'
import { encodeVoteMessage } from '../protocol/vote/vote-codec.js'
import { signingBytes, VOTE_TOPIC, type Unsigned, type VoteMessage, type WaveMsg } from '../protocol/vote/vote-messages.js'
import type { UpgradeSteps } from './executor.js'
import { UpgradeAgent, type UpgradeMeshPort } from './upgrade-agent.js'
import { UpgradeConfigInput } from '../protocol/upgrade-config.js'

function twoHosts(host: string): CephSnapshot {
  const tree = samples.tree2Hosts()
  const { known, osds } = osdsUnder(tree, host)
  const status = samples.status2Hosts()
  return { host, status, health: status.health, tree, dump: samples.dump2Hosts(), hostOsds: osds, hostKnown: known, okToStop: samples.notOkToStop2Hosts(), rules: samples.crushRules(), share: { pgs: 17, primaries: 9 } }
}

const never = (): Promise<never> => new Promise(() => {})
const steps: UpgradeSteps = { preGate: never, jointCheck: never, setNoout: never, clearNoout: never, cordon: never, uncordon: never, leftoverCycle: never, drain: never, assign: never, postGate: never }

describe('UpgradeAgent: the stop facts and the gate reasons travel in the record', () => {
  it('publishes pools, failure domains, ok-to-stop alone and the pre-gate reasons; /v1/self names what never clears', async () => {
    const patches: SelfPatch[] = []
    let published: (h: HealthSummary) => void = () => {}
    const first = new Promise<HealthSummary>((resolve) => (published = resolve))
    const mesh: UpgradeMeshPort = {
      view: () => [],
      updateSelf: (p) => {
        patches.push(p)
        // "Not ok alone" is published once OK_ALONE_NO_ROUNDS rounds in a row said so.
        if (p.health?.stop?.okAlone === false) published(p.health)
      },
      input: () => {},
      on: () => mesh,
      off: () => mesh,
    }
    const ceph = { run: async () => twoHosts('node-a') } as unknown as CephProbe
    const observer = new HealthObserver({ node: 'node-a', kubelet: { skip: 'test' }, kube: { skip: 'test' }, ceph })
    const agent = new UpgradeAgent({
      nodeId: 'node-a',
      image: 'v1',
      keyring: ed25519Keyring(new Uint8Array(32).fill(3)),
      mesh,
      config: UpgradeConfigInput.parse({ coordinatorKey: 'ab'.repeat(32), coordinatorUrl: 'http://127.0.0.1:1', gateIntervalMs: 5 }),
      clock: { now: () => 1_800_000_000_000 },
      steps,
      observer,
      load: () => 0.42,
    })
    try {
      agent.start()
      const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no health with stop facts published within 10 s')), 10_000).unref())
      const health = await Promise.race([first, deadline])
      // The rounds before it published the pools and domains without the unconfirmed "no".
      const before = patches.filter((p) => p.health?.stop && p.health.stop.okAlone === undefined)
      expect(before.length).toBeGreaterThan(0)
      expect(before[0]!.health!.stop).toEqual({ pools: health.stop!.pools, domainType: 'host', domains: 2 })
      expect(health.stop).toEqual({
        pools: [
          { name: 'testpool', size: 2, min: 2 },
          { name: 'device_health_metrics', size: 2, min: 2 },
        ],
        domainType: 'host',
        domains: 2,
        okAlone: false,
      })
      expect(health.gates?.pre).toBe(false)
      // The ranking's inputs ride in the same record: the Ceph share and the load of that round (no Kubernetes here: no pod counts).
      expect(patches.find((p) => p.health === health)?.work).toEqual({ pods: 0, load: 0.42, pgs: 17, primaries: 9 })
      expect(health.gates?.why).toContainEqual('ceph: Ceph says stopping osd.0 is not safe: 17 PGs would become inactive')
      const s = agent.status()
      expect(s.stop).toEqual(health.stop)
      expect(s.blocked.never.map((b) => b.fix.split(' (')[0])).toEqual(['ceph osd pool set testpool min_size 1', 'ceph osd pool set device_health_metrics min_size 1'])
      // Not a candidate (no wave): no wait reasons, only the facts.
      expect(s.blocked.reasons).toEqual([])
    } finally {
      await agent.close()
    }
  })
})

describe('UpgradeAgent: /v1/self says why this candidate waits', () => {
  it('in a wave, with the other node down: the budget with the numbers and its own pre-gate reasons', async () => {
    const coord = ed25519Keyring(new Uint8Array(32).fill(9))
    const me = ed25519Keyring(new Uint8Array(32).fill(3))
    const record = (id: string, phase: NodeRecordBody['phase']): MemberView => ({
      id,
      status: 'alive',
      inc: 1,
      updatedAt: 0,
      statusSince: 0,
      record: { id, key: id === 'node-a' ? me.publicKey : 'cd'.repeat(32), inc: 1, ver: 1, image: 'v1', phase, domain: 'rack-a', inv: {}, health: { status: 'ok', conditions: [] }, comps: [] },
    })
    const members = [record('node-a', 'ready'), record('node-b', 'rebooting')]
    let listener: ((e: MeshEvent, at: number) => void) | undefined
    let published: () => void = () => {}
    const firstRound = new Promise<void>((resolve) => (published = resolve))
    const mesh: UpgradeMeshPort = {
      view: () => members,
      updateSelf: (p) => {
        if (p.health?.gates) published()
      },
      input: () => {},
      on: (_e, l) => ((listener = l), mesh),
      off: () => mesh,
    }
    const ceph = { run: async () => twoHosts('node-a') } as unknown as CephProbe
    const agent = new UpgradeAgent({
      nodeId: 'node-a',
      image: 'v1',
      keyring: me,
      mesh,
      config: UpgradeConfigInput.parse({ coordinatorKey: coord.publicKey, coordinatorUrl: 'http://127.0.0.1:1', gateIntervalMs: 3_600_000 }),
      clock: { now: () => 1_800_000_000_000 },
      steps,
      observer: new HealthObserver({ node: 'node-a', kubelet: { skip: 'test' }, kube: { skip: 'test' }, ceph }),
    })
    try {
      agent.start()
      const deadline = (what: string) => new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} within 10 s`)), 10_000).unref())
      await Promise.race([firstRound, deadline('no gate round')])
      const wave: Unsigned<WaveMsg> = {
        k: 'wave',
        v: 1,
        id: 'w1',
        target: 'v2',
        slots: 1,
        policy: 'rank',
        roster: [
          { id: 'node-a', key: me.publicKey },
          { id: 'node-b', key: 'cd'.repeat(32) },
        ],
        coord: { id: 'coordinator', key: coord.publicKey },
        startedAt: 1_700_000_000_000,
      }
      const msg = { ...wave, sig: coord.sign(signingBytes(wave as Unsigned<VoteMessage>)) } as VoteMessage
      listener!({ type: 'app', from: 'coordinator', topic: VOTE_TOPIC, body: encodeVoteMessage(msg), direct: false }, 0)
      await Promise.race([agent.runtime!.idle(), deadline('vote not idle')])
      const s = agent.status()
      expect(s.wave).toBe('w1')
      expect(s.blocked.reasons).toEqual([
        'budget: K=1, 1 unavailable now (node-b)',
        'pre-reboot gate: ceph: Ceph says stopping osd.0 is not safe: 17 PGs would become inactive',
        // What the verdict did not look at is part of it (real-steps.ts verdictOf).
        'pre-reboot gate: kube: not checked (test)',
      ])
      expect(s.blocked.never.map((b) => b.code)).toEqual(['pool-min-size', 'pool-min-size'])
    } finally {
      await agent.close()
    }
  })
})
