/**
 * What an agent publishes so that a wave which cannot move can say why: one gate round over
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
import type { SelfPatch } from '../protocol/mesh-types.js'
import type { UpgradeSteps } from './executor.js'
import { UpgradeAgent, type UpgradeMeshPort } from './upgrade-agent.js'
import { UpgradeConfigInput } from './upgrade-config.js'

function twoHosts(host: string): CephSnapshot {
  const tree = samples.tree2Hosts()
  const { known, osds } = osdsUnder(tree, host)
  const status = samples.status2Hosts()
  return { host, status, health: status.health, tree, dump: samples.dump2Hosts(), hostOsds: osds, hostKnown: known, okToStop: samples.notOkToStop2Hosts(), rules: samples.crushRules() }
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
        if (p.health?.stop) published(p.health)
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
      config: UpgradeConfigInput.parse({ coordinatorKey: 'ab'.repeat(32), coordinatorUrl: 'http://127.0.0.1:1', gateIntervalMs: 3_600_000 }),
      clock: { now: () => 1_800_000_000_000 },
      steps,
      observer,
    })
    try {
      agent.start()
      const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no health with stop facts published within 10 s')), 10_000).unref())
      const health = await Promise.race([first, deadline])
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
