/**
 * Why the vote's ranking (agent/protocol/vote/ranking.ts) puts each candidate where it is,
 * in words, for `shoal upgrade start --dry-run`: each node against the one ranked just
 * before it, by the first rule that tells them apart. Pure.
 */
import { compareRank, type RankKey } from '../../agent/protocol/vote/ranking.js'

export interface RankedNode {
  node: string
  /** 1-based position in the order. */
  position: number
  okToStop: boolean
  blocked: number
  domain: string
  domainActive: boolean
  primaries: number
  pgs: number
  pods: number
  load: number
  /** Why it comes after the previous one (or first). */
  why: string
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

/** The rule that puts `b` after `a` (`a` ranked first), in words. */
export function whyAfter(a: RankKey, b: RankKey): string {
  if (a.ok !== b.ok) return `Ceph ok-to-stop says no for it now (yes for ${a.id})`
  if (a.blocked !== b.blocked) return `a PodDisruptionBudget blocks ${plural(b.blocked, 'pod')} of its drain (${a.id}: ${a.blocked})`
  if (a.domainActive !== b.domainActive) return `its domain ${b.domain} is untouched; ${a.domain} is under way (finish one domain first)`
  if (a.domain !== b.domain) return `domain ${b.domain} comes after ${a.domain} (by name)`
  if (a.primaries !== b.primaries) return `more Ceph primary PGs on its OSDs (${b.primaries} > ${a.primaries} on ${a.id})`
  if (a.pgs !== b.pgs) return `more Ceph PGs on its OSDs (${b.pgs} > ${a.pgs} on ${a.id})`
  if (a.pods !== b.pods) return `more pods to evict (${b.pods} > ${a.pods} on ${a.id})`
  if (a.load !== b.load) return `higher load (${b.load} > ${a.load} on ${a.id})`
  return `same on every rule as ${a.id}: node id breaks the tie`
}

/** The keys in ranking order, each with why it is there. */
export function rankedWithReasons(keys: readonly RankKey[]): RankedNode[] {
  const sorted = [...keys].sort(compareRank)
  return sorted.map((k, i) => ({
    node: k.id,
    position: i + 1,
    okToStop: k.ok,
    blocked: k.blocked,
    domain: k.domain,
    domainActive: k.domainActive,
    primaries: k.primaries,
    pgs: k.pgs,
    pods: k.pods,
    load: k.load,
    why: i === 0 ? 'first: ranks ahead on every rule' : whyAfter(sorted[i - 1]!, k),
  }))
}
