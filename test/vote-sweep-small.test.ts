/**
 * The smallest clusters through the seed sweep (test/vote-sweep.ts), faults on:
 * - two workers, pools at size 2 / min_size 1, K=1: every wave completes — while one worker
 *   is down the other is exactly half the roster, and the coordinator's tie-break vote makes
 *   the quorum;
 * - two workers with the default pools (size 3 / min_size 2): the start check refuses every
 *   wave (no host could ever pass ok-to-stop) — counted as refused, never as incomplete;
 * - three workers with the defaults, K=1: every wave completes.
 */
import { describe, it } from 'vitest'
import { sweep } from './vote-sweep.js'

describe('vote: seed sweep of the smallest clusters', () => {
  it('N=2, K=1, size 2 / min_size 1, seeds 1-300: no violation, every wave completes', () => sweep([{ nodes: 2, maxUnavailable: 1, domains: 2, poolSize: 2, minSize: 1, seeds: { from: 1, to: 300 } }]), 300_000)

  it('N=2, K=1, size 3 / min_size 2 (the defaults), seeds 1-50: refused every time, none incomplete', () => sweep([{ nodes: 2, maxUnavailable: 1, domains: 2, seeds: { from: 1, to: 50 } }], { refused: true }), 300_000)

  it('N=3, K=1, size 3 / min_size 2, seeds 1-300: no violation, every wave completes', () => sweep([{ nodes: 3, maxUnavailable: 1, domains: 3, seeds: { from: 1, to: 300 } }]), 300_000)
})
