import type Hyperswarm from 'hyperswarm'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { silentLogger } from '../protocol/ports.js'
import { Roster } from '../protocol/roster.js'
import { seededRng } from '../protocol/testing.js'
import { PeerDiscovery } from './peer-discovery.js'
import { newTransportStats } from './transport-stats.js'

const SELF = '8'.repeat(64)
/** Ten peers on the topic: five keys below ours, five above. */
const KEYS = [...'01234', ...'9abcd'].map((c) => c.repeat(64))

/** A discovery over a fake swarm whose topic lookup answers KEYS once; records the dials it asks for. */
function setup(seed: number) {
  const roster = new Roster([{ id: 'self', key: SELF }, ...KEYS.map((key, i) => ({ id: `p${i}`, key }))])
  const reached: { id: string; key: string; wanted?: () => boolean }[] = []
  const links = { size: 0, has: () => false }
  const swarm = {
    dht: {
      lookup: () =>
        (async function* () {
          yield { peers: KEYS.map((k) => ({ publicKey: Buffer.from(k, 'hex') })) }
        })(),
    },
  } as unknown as Hyperswarm
  const discovery = new PeerDiscovery({
    selfId: 'self',
    selfKey: SELF,
    topic: Buffer.alloc(32),
    roster,
    seedDegree: 3,
    intervalMs: 1000,
    idleIntervalMs: 30_000,
    rng: seededRng(seed),
    stats: newTransportStats(),
    log: silentLogger,
    links,
    dials: { busy: () => false, inFlight: () => reached.length, reach: (id, key, wanted) => void reached.push({ id, key, ...(wanted ? { wanted } : {}) }) },
  })
  discovery.start(swarm)
  return { discovery, reached, links }
}

describe('peer discovery: seed links', () => {
  beforeEach(() => void vi.useFakeTimers())
  afterEach(() => void vi.useRealTimers())

  it('dials seedDegree peers chosen at random, one smaller key (dialled at once) among them; held-off ones only while still short', async () => {
    let greaterPicked = 0
    for (let seed = 1; seed <= 20; seed++) {
      const t = setup(seed)
      await vi.advanceTimersByTimeAsync(1)
      t.discovery.close()
      expect(t.reached).toHaveLength(3)
      expect(new Set(t.reached.map((r) => r.id)).size).toBe(3)
      expect(t.reached.some((r) => r.key < SELF)).toBe(true)
      greaterPicked += t.reached.filter((r) => r.key > SELF).length
      // The "still wanted" check a held-off dial makes when its hold-off ends: short of seeds, or not.
      const wanted = t.reached[0]!.wanted!
      t.links.size = 2
      expect(wanted()).toBe(true)
      t.links.size = 3
      expect(wanted()).toBe(false)
    }
    // Not smaller keys first (which left the smallest keys of a cluster with a dozen seed links each).
    expect(greaterPicked).toBeGreaterThan(10)
  })
})
