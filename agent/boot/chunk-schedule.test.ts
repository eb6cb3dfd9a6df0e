/**
 * The layer fetch's scheduler and pace rules on their own (docs/layers.md "The fetch"): a
 * FetchState with made-up peers and have maps, a clock that moves only when the test moves
 * it, and an `io` that records what would be asked of whom. No sockets, no timers.
 */
import { describe, expect, it } from 'vitest'
import { seededRng } from '../protocol/testing.js'
import { setBit } from '../protocol/layer-chunks.js'
import { chunkFetchDefaults, noStats } from './chunk-fetch-config.js'
import { FetchState, INFLIGHT, newPeer, type PeerState } from './chunk-fetch-state.js'
import { PaceRules, startWait } from './chunk-pace.js'
import { schedule, type Scheduler } from './chunk-schedule.js'

const MiB = 1024 * 1024
const cfg = { ...chunkFetchDefaults }

/** One layer of `n` whole 1 MiB chunks. */
function setup(n: number, seed = 1) {
  let t = 1000
  const clock = { now: () => t, advance: (ms: number) => void (t += ms) }
  const st = new FetchState([{ name: 'base.squashfs', size: n * MiB, chunks: { bytes: MiB, sha256: Array.from({ length: n }, () => '0'.repeat(64)) } }])
  const pace = new PaceRules(cfg, MiB)
  const asked: { from: string; ks: number[]; fallback?: boolean }[] = []
  const s: Scheduler = {
    st,
    pace,
    cfg,
    peerWaitMs: cfg.peerWaitMs,
    rng: seededRng(seed),
    stats: noStats(n, n * MiB),
    t0: clock.now(),
    io: {
      fromPeer: (p, ks) => {
        p.inflight++
        st.launch(ks, p, new AbortController(), clock.now(), pace.dueEach(p))
        asked.push({ from: p.addr, ks })
      },
      fromOrigin: (g, fallback) => {
        st.originInflight++
        st.launch([g], undefined, new AbortController(), clock.now(), 0)
        asked.push({ from: 'origin', ks: [g], fallback })
      },
    },
  }
  const peer = (addr: string, has: number[]): PeerState => {
    const p = newPeer(addr)
    const bits = new Uint8Array(Math.ceil(n / 8))
    for (const g of has) setBit(bits, g)
    p.bits.set('base.squashfs', bits)
    p.heard = true
    st.peers.set(addr, p)
    return p
  }
  /** Chunks `ks` from p took `ms` each (by the test's clock). */
  const sentBy = (p: PeerState, ms: number, ks = 1) => {
    const at = clock.now()
    clock.advance(ms * ks)
    pace.peerSent(p, at, clock.now(), ks * MiB)
  }
  return { clock, st, pace, s, asked, peer, sentBy }
}

describe('chunk scheduler', () => {
  it('asks peers rarest chunk first, one chunk per request to a peer of unknown pace, at most peerInFlight each; the coordinator only for what no peer has', () => {
    const { clock, s, asked, peer } = setup(4)
    peer('a:1', [0, 1, 2])
    peer('b:1', [0, 1])
    schedule(s, clock.now())
    const a = asked.filter((x) => x.from === 'a:1')
    // Chunk 2 only a has: asked of a first whatever order the peers came in.
    expect(a[0]!.ks).toEqual([2])
    expect(asked.every((x) => x.ks.length === 1)).toBe(true)
    // Each of 0-2 asked once, of a peer; neither peer more than peerInFlight times.
    expect(asked.filter((x) => x.from !== 'origin').flatMap((x) => x.ks).sort()).toEqual([0, 1, 2])
    for (const from of ['a:1', 'b:1']) expect(asked.filter((x) => x.from === from).length).toBeLessThanOrEqual(cfg.peerInFlight)
    // Chunk 3 nobody has: the coordinator, not as a fallback.
    expect(asked.filter((x) => x.from === 'origin')).toEqual([{ from: 'origin', ks: [3], fallback: false }])
  })

  it('runs of up to peerRunChunks consecutive chunks only to a peer whose pace is known and not slow', () => {
    const { clock, s, asked, peer, sentBy } = setup(8)
    const a = peer('a:1', [0, 1, 2, 3, 4, 5, 6, 7])
    const b = peer('b:1', [])
    sentBy(a, 100)
    sentBy(b, 100)
    schedule(s, clock.now())
    const runs = asked.filter((x) => x.from === 'a:1').map((x) => x.ks)
    expect(runs).toHaveLength(2)
    // Each a run of consecutive chunks, up to peerRunChunks; a run ends early only at the layer's end or a chunk already asked for.
    for (const [i, ks] of runs.entries()) {
      expect(ks).toEqual(Array.from({ length: ks.length }, (_, j) => ks[0]! + j))
      const next = ks[ks.length - 1]! + 1
      if (ks.length < cfg.peerRunChunks) expect(next === 8 || runs.slice(0, i).some((r) => r.includes(next))).toBe(true)
    }
    // The same peer before its pace is known: one chunk per request.
    const fresh = setup(8)
    fresh.peer('a:1', [0, 1, 2, 3, 4, 5, 6, 7])
    schedule(fresh.s, fresh.clock.now())
    expect(fresh.asked.map((x) => x.ks.length)).toEqual([1, 1])
  })

  it('waits for every known peer to say what it has (or peerWaitMs) before asking the coordinator', () => {
    const { clock, s, st, asked, peer } = setup(2)
    peer('a:1', []).heard = false
    const wakeAt = schedule(s, clock.now())
    expect(asked).toEqual([])
    expect(wakeAt).toBe(s.t0 + cfg.peerWaitMs)
    clock.advance(cfg.peerWaitMs)
    schedule(s, clock.now())
    expect(asked.map((x) => x.from)).toEqual(['origin', 'origin'])
    expect(st.state.every((x) => x === INFLIGHT)).toBe(true)
  })

  it('waits longer for a peer shoal.peers= named (a running worker) on a slow host: startWait, from 3 manifest round trips up to 5 s', () => {
    expect(startWait(cfg, 0)).toBe(cfg.peerWaitMs)
    expect(startWait(cfg, 100)).toBe(cfg.peerWaitMs)
    expect(startWait(cfg, 700)).toBe(2100)
    expect(startWait(cfg, 60_000)).toBe(cfg.peerWaitMaxMs)
    expect(startWait({ ...cfg, peerWaitRtts: 0 }, 700)).toBe(cfg.peerWaitMs)
    const { clock, s, asked, peer } = setup(2)
    s.peerWaitMs = startWait(cfg, 700)
    const running = peer('running:1', [])
    running.heard = false
    running.named = true
    peer('booting:1', []).heard = false
    // The booting peer found through the tracker is waited for 500 ms, the named one 2.1 s.
    expect(schedule(s, clock.now())).toBe(s.t0 + 2100)
    clock.advance(cfg.peerWaitMs)
    expect(schedule(s, clock.now())).toBe(s.t0 + 2100)
    expect(asked).toEqual([])
    clock.advance(2100 - cfg.peerWaitMs)
    schedule(s, clock.now())
    expect(asked.map((x) => x.from)).toEqual(['origin', 'origin'])
    // A booting peer alone (nothing named) is waited for 500 ms whatever the round trip.
    const alone = setup(2)
    alone.s.peerWaitMs = startWait(cfg, 700)
    alone.peer('booting:1', []).heard = false
    expect(schedule(alone.s, alone.clock.now())).toBe(alone.s.t0 + cfg.peerWaitMs)
  })

  it('a named peer that answers ends the wait at once: its chunks go to it, the rest to the coordinator', () => {
    const { clock, s, asked, peer } = setup(4)
    s.peerWaitMs = 5000
    const running = peer('running:1', [])
    running.heard = false
    running.named = true
    schedule(s, clock.now())
    expect(asked).toEqual([])
    // Its first answer: it has chunks 0 and 1.
    running.heard = true
    setBit(running.bits.get('base.squashfs')!, 0)
    setBit(running.bits.get('base.squashfs')!, 1)
    clock.advance(300)
    schedule(s, clock.now())
    expect(asked.filter((x) => x.from === 'running:1').flatMap((x) => x.ks).sort()).toEqual([0, 1])
    expect(asked.filter((x) => x.from === 'origin').flatMap((x) => x.ks).sort()).toEqual([2, 3])
  })

  it('a slow peer gets one chunk at a time, and only chunks no peer that is not slow has', () => {
    const { clock, s, pace, asked, peer, sentBy } = setup(6)
    const slow = peer('slow:1', [0, 1, 2, 3, 4, 5])
    const fast = peer('fast:1', [0, 1, 2, 3])
    // Peers' chunks take 100 ms; the slow one's 2 s (over slowPeerMs and twice the peers').
    for (let i = 0; i < 3; i++) sentBy(fast, 100)
    sentBy(slow, 2000)
    expect(pace.slowPeer(slow)).toBe(true)
    expect(pace.slowPeer(fast)).toBe(false)
    schedule(s, clock.now())
    const bySlow = asked.filter((x) => x.from === 'slow:1')
    expect(bySlow).toHaveLength(1)
    expect(bySlow[0]!.ks).toHaveLength(1)
    expect([4, 5]).toContain(bySlow[0]!.ks[0])
  })

  it('a chunk at a slow peer past twice the peers chunk time is raced once to the coordinator when no faster holder is free', () => {
    const { clock, s, st, pace, asked, peer, sentBy } = setup(1)
    const fast = peer('fast:1', [])
    for (let i = 0; i < 3; i++) sentBy(fast, 100)
    const slow = peer('slow:1', [0])
    sentBy(slow, 3000)
    schedule(s, clock.now())
    expect(asked).toEqual([{ from: 'slow:1', ks: [0] }])
    const raceAt = schedule(s, clock.now())
    expect(pace.raceAfterAt(slow)).toBe(pace.raceSlowAfter())
    expect(raceAt).toBe(st.dueAt[0]! + pace.raceSlowAfter())
    clock.advance(pace.raceSlowAfter() - 1)
    schedule(s, clock.now())
    expect(asked).toHaveLength(1)
    clock.advance(1)
    schedule(s, clock.now())
    expect(asked[1]).toEqual({ from: 'origin', ks: [0], fallback: false })
    expect(s.stats.races).toBe(1)
    clock.advance(60_000)
    schedule(s, clock.now())
    expect(asked).toHaveLength(2)
  })

  it('a peer that told a thin upload cap gets one chunk per request, one request at a time, from its first have answer; a peer that told none as before', () => {
    const { clock, s, asked, peer } = setup(8)
    // 0.84 MiB/s (the storm bench's running workers): 1.2 s a chunk at best, over slowPeerMs.
    peer('capped:1', [0, 1, 2, 3]).cap = Math.round(0.84 * MiB)
    // 25 MiB/s (the default cap): 40 ms a chunk, known at once: runs.
    peer('wide:1', [4, 5, 6, 7]).cap = 25 * MiB
    schedule(s, clock.now())
    expect(asked.filter((x) => x.from === 'capped:1').map((x) => x.ks.length)).toEqual([1])
    const wide = asked.filter((x) => x.from === 'wide:1')
    expect(wide).toHaveLength(2)
    expect(wide.some((x) => x.ks.length > 1)).toBe(true)
  })

  it('a chunk at a capped peer is not raced before twice a chunk at its cap, however quick its first (burst) chunks were', () => {
    const { clock, s, st, asked, peer, sentBy } = setup(2)
    const a = peer('r1:1', [0, 1])
    const b = peer('r2:1', [0, 1])
    a.cap = b.cap = Math.round(0.84 * MiB)
    // Their first chunks came from the burst: 50 ms each; now a chunk at the cap takes 1.2 s.
    for (let i = 0; i < 2; i++) sentBy(a, 50)
    for (let i = 0; i < 2; i++) sentBy(b, 50)
    schedule(s, clock.now())
    expect(asked.map((x) => x.from).sort()).toEqual(['r1:1', 'r2:1'])
    const at = st.flightPeer[0]!
    expect(s.pace.slowPeer(at)).toBe(true)
    clock.advance(2 * s.pace.capChunkMs(at)! - 1)
    schedule(s, clock.now())
    expect(asked).toHaveLength(2)
    expect(s.stats.races).toBe(0)
  })

  it('a chunk its holders turned away busy goes to the coordinator after busyWait, not as a fallback', () => {
    const { clock, s, st, pace, asked, peer } = setup(1)
    const p = peer('busy:1', [0])
    p.slowUntil = clock.now() + 60_000
    st.busySince[0] = clock.now()
    schedule(s, clock.now())
    expect(asked).toEqual([])
    clock.advance(pace.busyWait())
    schedule(s, clock.now())
    expect(asked).toEqual([{ from: 'origin', ks: [0], fallback: false }])
    expect(s.stats.busyToOrigin).toBe(1)
  })
})

describe('pace rules', () => {
  it('a peer is slow over twice the peers median chunk time and over slowPeerMs, not before both are known', () => {
    const pace = new PaceRules(cfg)
    const a = newPeer('a:1')
    const b = newPeer('b:1')
    expect(pace.slowPeer(a)).toBe(false)
    pace.peerSent(b, 0, 100, MiB)
    pace.peerSent(b, 0, 100, MiB)
    pace.peerSent(a, 0, 450, MiB)
    // 450 ms: over twice the peers' 100 ms but under slowPeerMs (500).
    expect(pace.slowPeer(a)).toBe(false)
    pace.peerSent(a, 0, 1200, MiB)
    pace.peerSent(a, 0, 1200, MiB)
    expect(pace.slowPeer(a)).toBe(true)
    expect(pace.peerLimit(a)).toBe(1)
    expect(pace.peerLimit(b)).toBe(cfg.peerInFlight)
  })

  it('paces per byte: a short last chunk neither makes a trickler look fast nor a fast peer slow', () => {
    const pace = new PaceRules(cfg, MiB)
    const fast = newPeer('fast:1')
    const trickler = newPeer('trickler:1')
    for (let i = 0; i < 3; i++) pace.peerSent(fast, 0, 100, MiB)
    // A 12 KiB tail in 200 ms and a 777-byte one in 20 ms: round trips, not rates; not counted.
    pace.peerSent(trickler, 0, 200, 12_345)
    pace.peerSent(fast, 0, 20, 777)
    expect(pace.known(trickler)).toBe(false)
    expect(fast.pace.median()).toBe(100)
    // 300 kB in 4.6 s (64 KiB/s): 16 s a whole chunk, slow; a fast peer's 300 kB in 30 ms is 105 ms a chunk.
    pace.peerSent(trickler, 0, 4600, 300_000)
    expect(trickler.pace.median()).toBeCloseTo((4600 * MiB) / 300_000, 6)
    expect(pace.slowPeer(trickler)).toBe(true)
    pace.peerSent(fast, 0, 30, 300_000)
    expect(pace.slowPeer(fast)).toBe(false)
    // A run of 4 chunks in 400 ms is 100 ms a chunk, as one chunk in 100 ms.
    const runner = newPeer('runner:1')
    pace.peerSent(runner, 0, 400, 4 * MiB)
    expect(runner.pace.median()).toBe(100)
  })

  it('a transfer cut off counts for its peer as at least that slow; with no peer chunk yet, a peer is judged against the coordinator', () => {
    const pace = new PaceRules(cfg, MiB)
    const p = newPeer('p:1')
    pace.originSent(0, 50, MiB)
    // Cut off after 2 s with 12 KiB received: counted as a quarter chunk in 2 s, 8 s a chunk.
    pace.peerCut(p, 0, 2000, 12_345)
    expect(p.pace.median()).toBe(8000)
    // Cut off after 300 ms with 1 MiB of a 4 MiB run received: 300 ms a chunk.
    const q = newPeer('q:1')
    pace.peerCut(q, 0, 300, MiB)
    expect(q.pace.median()).toBe(300)
    expect(pace.peers.median()).toBeUndefined()
    expect(pace.slowPeer(p)).toBe(true)
  })

  it('a told cap is a floor under a peer pace: slow against the peers from the first answer, and its busy pause is a chunk at its cap', () => {
    const pace = new PaceRules(cfg, MiB)
    const booting = newPeer('b:1')
    for (let i = 0; i < 3; i++) pace.peerSent(booting, 0, 200, MiB)
    const running = newPeer('r:1')
    expect(pace.known(running)).toBe(false)
    running.cap = MiB
    expect(pace.known(running)).toBe(true)
    expect(pace.peerPace(running)).toBe(1000)
    expect(pace.slowPeer(running)).toBe(true)
    expect(pace.thin(running)).toBe(true)
    expect(pace.peerLimit(running)).toBe(1)
    expect(pace.busyPause(running)).toBe(1000)
    expect(pace.busyPause(booting)).toBe(cfg.busyPauseMs)
    // Measured slower than its cap allows (its slot shared): the measure counts.
    pace.peerSent(running, 0, 3000, MiB)
    expect(pace.peerPace(running)).toBe(3000)
    // A wide cap is neither thin nor slow.
    const wide = newPeer('w:1')
    wide.cap = 25 * MiB
    expect(pace.thin(wide)).toBe(false)
    expect(pace.slowPeer(wide)).toBe(false)
  })

  it('waits scale with the storm between their floors and caps', () => {
    const pace = new PaceRules(cfg)
    expect(pace.busyWait()).toBe(cfg.busyOriginMs)
    expect(pace.fallbackWait()).toBe(cfg.originRetryMs)
    expect(pace.raceAfter()).toBe(cfg.raceAfterMs)
    expect(pace.stallMs()).toBe(cfg.peerStallMs)
    const p = newPeer('p:1')
    for (let i = 0; i < 5; i++) pace.peerSent(p, 0, 3000, MiB)
    pace.originSent(0, 4000, MiB)
    expect(pace.busyWait()).toBe(6000)
    expect(pace.fallbackWait()).toBe(14_000)
    expect(pace.raceAfter()).toBe(9000)
    expect(pace.raceSlowAfter()).toBe(6000)
    expect(pace.stallMs()).toBe(3000)
    for (let i = 0; i < 16; i++) pace.peerSent(p, 0, 60_000, MiB)
    expect(pace.busyWait()).toBe(10_000)
    expect(pace.stallMs()).toBe(4 * cfg.peerStallMs)
  })
})
