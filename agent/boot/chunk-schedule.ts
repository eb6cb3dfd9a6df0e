/**
 * Which chunk next, and from whom (docs/layers.md "The fetch"): one pass over the fetch's
 * state that asks peers, races chunks held at slow peers, and asks the coordinator for what
 * no peer can give. Pure: it starts requests through `io` (which marks them in flight at
 * once, FetchState.launch) and returns when it wants to look again; chunk-fetch.ts does the
 * requests and the timers.
 *
 * - A chunk some followed peer has goes to a peer: rarest first, random tie break, at most
 *   peerLimit requests per peer, a run of up to peerRunChunks consecutive chunks per request
 *   to a peer of known pace that is not slow. A slow peer gets only chunks no peer that is
 *   not slow has.
 * - A chunk at a slow peer (or one of unknown pace) past its time is raced once: a faster
 *   free holder, else the coordinator without the fallback flag.
 * - The coordinator gets chunks no followed peer has (random order: a rack spreads over the
 *   image), chunks their holders turned away busy for busyWait, and fallbacks after a
 *   refusal's fallbackWait; at the start only once every known peer said what it has (or
 *   after peerWaitMs; for the peers shoal.peers= named, longer on a slow host: startWait).
 */
import type { Rng } from '../protocol/ports.js'
import { shuffle } from '../protocol/random.js'
import type { ChunkFetchConfig, ChunkFetchStats } from './chunk-fetch-config.js'
import { MISSING, INFLIGHT, type FetchState, type PeerState } from './chunk-fetch-state.js'
import type { PaceRules } from './chunk-pace.js'

export interface ScheduleIo {
  /** Ask p for chunks `ks` (consecutive, one layer) in one request. */
  fromPeer(p: PeerState, ks: number[]): void
  /** Ask the coordinator for chunk g. */
  fromOrigin(g: number, fallback: boolean): void
  trace?(line: string): void
}

export interface Scheduler {
  st: FetchState
  pace: PaceRules
  cfg: Pick<ChunkFetchConfig, 'peerRunChunks' | 'originInFlight' | 'peerWaitMs'>
  /** At the start, the coordinator waits this long for the peers named in shoal.peers= to answer (chunk-pace.ts startWait); for others cfg.peerWaitMs. */
  peerWaitMs: number
  rng: Rng
  stats: Pick<ChunkFetchStats, 'races' | 'busyToOrigin'>
  /** When the fetch started (peerWaitMs counts from it; trace lines too). */
  t0: number
  io: ScheduleIo
}

/** One scheduling pass at `now`; returns when to look again at the latest (Infinity: on the next event only). */
export function schedule(s: Scheduler, now: number): number {
  const { st, pace, cfg, rng } = s
  const total = st.total
  const order = shuffle([...st.peers.values()].filter((p) => st.usable(p) && p.slowUntil <= now), rng)
  const count = new Uint16Array(total)
  /** Holders that are not slow: a slow peer gets only chunks none of them has. */
  const fast = new Uint16Array(total)
  for (const p of st.peers.values()) {
    if (!st.usable(p)) continue
    const slow = pace.slowPeer(p)
    for (let g = 0; g < total; g++) {
      if (st.state[g] === MISSING && st.peerHas(p, g)) {
        count[g]!++
        if (!slow) fast[g]!++
      }
    }
  }
  for (const p of order) {
    const slow = pace.slowPeer(p)
    while (p.inflight < pace.peerLimit(p)) {
      let best = -1
      let bestCount = Infinity
      let ties = 0
      for (let g = 0; g < total; g++) {
        if (st.state[g] !== MISSING || !st.peerHas(p, g) || (slow && fast[g]! > 0)) continue
        const c = count[g]!
        if (c < bestCount) {
          best = g
          bestCount = c
          ties = 1
        } else if (c === bestCount && rng.int(++ties) === 0) best = g
      }
      if (best < 0) break
      s.io.fromPeer(p, runOf(s, p, best))
    }
  }
  let wakeAt = race(s, now)
  // Ask the coordinator only for what the peers we know of do not have, or what their holders were too busy to send.
  // (Longer for the peers the boot script named, running workers, on a slow host: their answer is worth the wait;
  // booting peers found through the tracker have nothing yet.)
  const waitUntil = Math.max(0, ...[...st.peers.values()].filter((p) => st.usable(p) && !p.heard).map((p) => s.t0 + (p.named ? Math.max(s.peerWaitMs, cfg.peerWaitMs) : cfg.peerWaitMs)))
  const waitPeers = now < waitUntil
  if (waitPeers) wakeAt = Math.min(wakeAt, waitUntil)
  while (!waitPeers && st.originInflight < cfg.originInFlight) {
    let pick = -1
    let seen = 0
    let soonest = Infinity
    for (let g = 0; g < total; g++) {
      if (st.state[g] !== MISSING) continue
      const busy = count[g]! > 0
      // A chunk its holders turned away (and none took since), asked once, not as a fallback: the broker still caps the copies.
      if (busy && !(st.busySince[g]! > 0 && st.refusedAt[g] === 0)) continue
      const due = Math.max(st.notBefore[g]!, busy ? st.busySince[g]! + pace.busyWait() : st.refusedAt[g]! > 0 ? st.refusedAt[g]! + pace.fallbackWait() : 0)
      if (due > now) {
        soonest = Math.min(soonest, due)
        continue
      }
      if (rng.int(++seen) === 0) pick = g
    }
    if (pick < 0) {
      wakeAt = Math.min(wakeAt, soonest)
      break
    }
    if (count[pick]! > 0) s.stats.busyToOrigin++
    s.io.fromOrigin(pick, count[pick] === 0 && st.fallback[pick] === 1)
  }
  return wakeAt
}

/**
 * Chunk g and the following ones of the same layer that are missing and that p has, up to
 * peerRunChunks, for one Range request: fewer round trips, which is what a loaded host makes
 * expensive. Runs only to a peer whose pace is known and that is neither slow nor thin: a
 * capped peer held 4 chunks for 4x its slow time.
 */
export function runOf(s: Scheduler, p: PeerState, g: number, single = false): number[] {
  const { st, pace } = s
  const run = single || !pace.known(p) || pace.slowPeer(p) || pace.thin(p) ? 1 : s.cfg.peerRunChunks
  let last = g
  while (last - g + 1 < run && last + 1 < st.total && st.fileOf[last + 1] === st.fileOf[g] && st.state[last + 1] === MISSING && st.peerHas(p, last + 1)) last++
  return Array.from({ length: last - g + 1 }, (_, i) => g + i)
}

/**
 * A chunk a slow peer (or one of unknown pace) has had for longer than its race time past its
 * due time is asked of a faster holder, or else of the coordinator (without the fallback flag:
 * the broker's cap holds), once; the first verified copy is kept and the other request is cut
 * off. Returns when the next race is due (Infinity: none).
 */
function race(s: Scheduler, now: number): number {
  const { st, pace } = s
  let soonest = Infinity
  for (let g = 0; g < st.total; g++) {
    const at = st.flightPeer[g]
    // Only at a slow peer, or one whose pace is not known yet: racing chunks among booting peers on a
    // loaded host threw away 7.5% of a storm's bytes (each one CPU the storm is short of).
    if (st.state[g] !== INFLIGHT || st.flights[g] !== 1 || st.raced[g] || at === undefined) continue
    const slow = pace.slowPeer(at)
    if (!slow && pace.known(at)) continue
    const due = st.dueAt[g]! + pace.raceAfterAt(at)
    if (due > now) {
      soonest = Math.min(soonest, due)
      continue
    }
    const other = [...st.peers.values()].find((q) => q !== at && st.usable(q) && q.slowUntil <= now && q.inflight < pace.peerLimit(q) && !pace.slowPeer(q) && st.peerHas(q, g))
    if (other) {
      st.raced[g] = 1
      s.stats.races++
      s.io.trace?.(`${now - s.t0} race chunk ${g}: ${at.addr} -> ${other.addr}`)
      s.io.fromPeer(other, [g])
    } else if (st.originInflight < s.cfg.originInFlight && st.refusedAt[g] === 0 && st.notBefore[g]! <= now) {
      st.raced[g] = 1
      s.stats.races++
      s.io.trace?.(`${now - s.t0} race chunk ${g}: ${at.addr} -> coordinator`)
      s.io.fromOrigin(g, false)
    }
  }
  return soonest
}
