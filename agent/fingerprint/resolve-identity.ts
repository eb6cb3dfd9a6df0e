/**
 * Which node id this machine has: pure, deterministic, no IO.
 *
 * The algorithm (docs/identity.md tells the same story for operators):
 *
 * 1. Screen. Every collected value is normalised. Vendor placeholders and other junk
 *    ("To Be Filled By O.E.M.", "0123456789", all-zero uuids, ...) are dropped; a value seen
 *    twice (Dell's service tag as system AND chassis serial, one NVMe controller serial on
 *    two namespaces) counts once. What is left is hashed into the component digest
 *    (`comps`, published in the NodeRecord).
 * 2. Screen against the fleet. A value that at least `fleetCommonMinIds` (3) known machines
 *    also have identifies nobody (a batch of boards with one serial, a cloned VM's MAC): it
 *    stays in the digest but is not used for matching — on either side.
 * 3. Score each known machine that shares a value. Components vote in groups: disks 0.5
 *    (the Ceph OSDs live on them), board ids 0.2, NICs 0.15, memory modules 0.1, CPU 0.05.
 *    A group's similarity is the weighted Jaccard of the two sets in it; the score is the
 *    weighted mean over the groups either side has. If the board ids disagree with
 *    themselves (some equal, some different — a serial reused across a batch), the board
 *    group is left out: a real board swap changes them all.
 * 4. Keep a known id when score >= 0.4 (SAME_MACHINE_THRESHOLD) AND at least 2 independent
 *    components match AND that machine is not alive elsewhere right now. The CPU model does
 *    not count as a match; a disk's registered WWN counts twice (unique by construction, and
 *    the OSD lives on it). Otherwise one matching part is never enough: a serial can be
 *    reused by a vendor. The best score wins; ties go to more matches, then the smaller id.
 * 5. Otherwise a new id derived from the digest alone (node-id.ts); if a known machine that
 *    did not match already holds it, the next derivation is used.
 * 6. No usable component at all: the operator's id (`fallbackId`, from the kernel command
 *    line `shoal.node_id=`) or a ShoalError('no-identity') that says what was missing.
 *
 * What keeps the id: any single part swap (a NIC, a disk added or removed, a DIMM, the CPU)
 * and a board replacement when the disks come along. What makes a new one: most parts
 * replaced, or all disks plus the board. Merging two machines is far worse than a new id
 * (two hosts would share a hostname and a CRUSH bucket), so every doubt goes to a new id.
 */
import { ShoalError } from '../protocol/errors.js'
import { BOARD_KINDS, COMPONENT_KINDS, DOUBLE_EVIDENCE_KINDS, GROUP_WEIGHT, KIND_GROUP, KIND_WEIGHT, WEAK_KINDS, normalizeValue, type Component, type ComponentGroup, type ComponentKind } from './component.js'
import { capDigest, digestKind, hashComponent } from './component-digest.js'
import { junkReason } from './junk-values.js'
import { deriveNodeId, isValidNodeId } from './node-id.js'

/** What the mesh (or the coordinator) remembers about a node's hardware. */
export interface KnownFingerprint {
  id: string
  /** Its component digest ("kind:hash" entries). */
  comps: readonly string[]
  /**
   * True when that node answered a direct probe AFTER this machine started booting: a
   * machine cannot be in two places, so its id is not for taking (this one is a clone).
   * Not "not yet declared dead": a rebooting node's own record looks alive for a few
   * seconds, and marking it so would give the rebooted machine a new id.
   */
  alive?: boolean
}

export interface ResolveOptions {
  /** Score needed to keep a known id; see the header. Default SAME_MACHINE_THRESHOLD. */
  threshold?: number
  /** Independent matching components needed to keep a known id. Default 2. */
  minMatches?: number
  /** A value held by at least this many known machines is fleet-common. Default 3 (two could be one disk moved between two machines). */
  fleetCommonMinIds?: number
  /** The operator's id for a machine with no usable hardware identity (kernel command line `shoal.node_id=`). */
  fallbackId?: string
}

/**
 * 0.4: a board swap with the disks kept scores 0.5 or more; one NIC, DIMM or CPU changed
 * scores 0.75 or more; a one-disk machine that lost its disk still scores 0.44; most parts
 * replaced scores 0.35 or less. Two machines that share only batch serials stay below it
 * or fail the two-match rule.
 */
export const SAME_MACHINE_THRESHOLD = 0.4
export const DEFAULT_MIN_MATCHES = 2
export const DEFAULT_FLEET_COMMON_MIN_IDS = 3

export interface ComponentVerdict extends Component {
  normalized: string
  /** The digest entry ("kind:hash"); absent for junk. */
  hash?: string
  /** True when the value is in the digest and so part of this machine's identity. */
  kept: boolean
  /** Why it was kept or dropped, in words an operator understands. */
  reason: string
  /** How many known machines (other than the matched one) share it, when 1 or more. */
  sharedBy?: number
  /** True when this component is one of those that matched the chosen known id. */
  matched?: boolean
}

export interface Candidate {
  id: string
  score: number
  /** Independent evidence that matched: 1 per component, 2 per disk WWN, 0 for the CPU model. */
  matches: number
  /** Why it was not taken, when it was not. */
  rejected?: string
}

export interface IdentityResult {
  id: string
  /** matched: a known id kept; new: derived from the digest; operator: the fallback id. */
  decision: 'matched' | 'new' | 'operator'
  /** Score of the match (decision 'matched'). */
  score?: number
  /** The component digest to publish in the NodeRecord. */
  comps: string[]
  components: ComponentVerdict[]
  /** Up to 3 best-scoring known machines, for explanation. */
  candidates: Candidate[]
  warnings: string[]
}

const KIND_ORDER = new Map<ComponentKind, number>(COMPONENT_KINDS.map((k, i) => [k, i]))

/**
 * Steps 1 (screening) alone: verdicts for every component and the digest. Pure.
 * Exported for `shoal fingerprint` and for callers that only need the digest.
 */
export function screenComponents(components: readonly Component[]): { verdicts: ComponentVerdict[]; comps: string[] } {
  const ordered = [...components].sort((a, b) => KIND_ORDER.get(a.kind)! - KIND_ORDER.get(b.kind)!)
  const seen = new Map<string, ComponentVerdict>()
  const verdicts: ComponentVerdict[] = []
  for (const c of ordered) {
    const normalized = normalizeValue(c.kind, c.value)
    const junk = junkReason(c.kind, c.value)
    if (junk) {
      verdicts.push({ ...c, normalized, kept: false, reason: `dropped: ${junk}` })
      continue
    }
    // Same value under another kind or on another device: one piece of evidence, not two.
    const key = c.kind === 'dimm' ? `dimm\0${normalized}` : normalized
    const first = seen.get(key)
    if (first) {
      verdicts.push({ ...c, normalized, kept: false, reason: `dropped: same value as ${first.kind}${first.label ? ` ${first.label}` : ''}` })
      continue
    }
    const v: ComponentVerdict = { ...c, normalized, hash: hashComponent(c.kind, normalized), kept: true, reason: 'kept' }
    seen.set(key, v)
    verdicts.push(v)
  }
  const { digest, overflow } = capDigest(verdicts.filter((v) => v.kept).map((v) => v.hash!))
  const over = new Set(overflow)
  for (const v of verdicts) {
    if (v.kept && over.has(v.hash!)) {
      v.kept = false
      v.reason = `dropped: the digest keeps at most its share of ${v.kind} entries`
    }
  }
  return { verdicts, comps: digest }
}

/**
 * The known fleet, indexed by component hash so resolving against 10,000 machines only
 * looks at the few that share a value. Mutable: the mesh adds records as they arrive.
 */
export class FleetIndex {
  private readonly byId = new Map<string, { fp: KnownFingerprint; comps: string[] }>()
  private readonly holders = new Map<string, Set<string>>()

  constructor(known: Iterable<KnownFingerprint> = []) {
    for (const k of known) this.add(k)
  }

  get size(): number {
    return this.byId.size
  }

  /** Adds or replaces a known machine. Entries of unknown kinds are ignored. */
  add(fp: KnownFingerprint): void {
    this.remove(fp.id)
    const comps = [...new Set(fp.comps)].filter((c) => digestKind(c) !== undefined)
    this.byId.set(fp.id, { fp, comps })
    for (const c of comps) (this.holders.get(c) ?? this.holders.set(c, new Set()).get(c)!).add(fp.id)
  }

  remove(id: string): void {
    const old = this.byId.get(id)
    if (!old) return
    this.byId.delete(id)
    for (const c of old.comps) {
      const s = this.holders.get(c)
      s?.delete(id)
      if (s && s.size === 0) this.holders.delete(c)
    }
  }

  has(id: string): boolean {
    return this.byId.has(id)
  }

  get(id: string): KnownFingerprint | undefined {
    return this.byId.get(id)?.fp
  }

  /** The digest entries of a known machine (deduplicated, known kinds only). */
  compsOf(id: string): readonly string[] {
    return this.byId.get(id)?.comps ?? []
  }

  /** Ids of known machines whose digest has this entry. */
  holdersOf(entry: string): ReadonlySet<string> {
    return this.holders.get(entry) ?? EMPTY
  }
}
const EMPTY: ReadonlySet<string> = new Set()

/** What resolving needs of the fleet. */
type FleetView = Pick<FleetIndex, 'holdersOf' | 'compsOf' | 'has' | 'get'>

/**
 * A one-shot view of a known array, indexing only the entries this resolution can ask
 * about (this machine's values and its candidates' values): two scans with set lookups,
 * ~20x cheaper than building a full FleetIndex of 10,000 machines for a single boot.
 */
function sparseView(known: readonly KnownFingerprint[], comps: readonly string[]): FleetView {
  const local = new Set(comps)
  const byId = new Map<string, KnownFingerprint>()
  const holders = new Map<string, Set<string>>()
  const note = (c: string, id: string) => (holders.get(c) ?? holders.set(c, new Set()).get(c)!).add(id)
  const candidates: KnownFingerprint[] = []
  for (const fp of known) {
    byId.set(fp.id, fp)
    let hit = false
    for (const c of fp.comps) {
      if (local.has(c)) {
        note(c, fp.id)
        hit = true
      }
    }
    if (hit) candidates.push(fp)
  }
  const interest = new Set<string>()
  for (const fp of candidates) for (const c of fp.comps) if (!local.has(c)) interest.add(c)
  if (interest.size) for (const fp of known) for (const c of fp.comps) if (interest.has(c)) note(c, fp.id)
  const compsCache = new Map<string, string[]>()
  return {
    holdersOf: (entry) => holders.get(entry) ?? EMPTY,
    compsOf: (id) => {
      let cs = compsCache.get(id)
      if (!cs) compsCache.set(id, (cs = [...new Set(byId.get(id)?.comps ?? [])].filter((c) => digestKind(c) !== undefined)))
      return cs
    },
    has: (id) => byId.has(id),
    get: (id) => byId.get(id),
  }
}

/** Resolves this machine's id from its components and the known fleet. See the header. */
export function resolveIdentity(components: readonly Component[], known: readonly KnownFingerprint[] | FleetIndex = [], opts: ResolveOptions = {}): IdentityResult {
  const { verdicts, comps } = screenComponents(components)
  return resolveDigest(comps, known, opts, verdicts)
}

/**
 * The same decision from a digest alone — what the coordinator has at enrollment.
 * `verdicts` (optional) are annotated with fleet sharing and matches for explanation.
 */
export function resolveDigest(comps: readonly string[], known: readonly KnownFingerprint[] | FleetIndex = [], opts: ResolveOptions = {}, verdicts: ComponentVerdict[] = []): IdentityResult {
  const threshold = opts.threshold ?? SAME_MACHINE_THRESHOLD
  const minMatches = opts.minMatches ?? DEFAULT_MIN_MATCHES
  const commonMin = opts.fleetCommonMinIds ?? DEFAULT_FLEET_COMMON_MIN_IDS
  const index: FleetView = known instanceof FleetIndex ? known : sparseView(known, comps)
  const warnings: string[] = []
  const digest = [...new Set(comps)].filter((c) => digestKind(c) !== undefined)

  // Step 2: fleet-common values identify nobody.
  const isCommon = (entry: string) => index.holdersOf(entry).size >= commonMin
  const local = digest.filter((c) => !isCommon(c))
  const byHash = new Map(verdicts.filter((v) => v.hash).map((v) => [v.hash!, v]))
  for (const c of digest) {
    const n = index.holdersOf(c).size
    const v = byHash.get(c)
    if (v && n > 0) v.sharedBy = n
    if (v && v.kept && n >= commonMin) v.reason = `kept in the digest, not used to match: ${n} known machines have it too`
  }

  const strongLocal = local.filter((c) => !WEAK_KINDS.has(digestKind(c)!))
  if (strongLocal.length === 0) {
    const why = explainNothingUsable(digest, verdicts, commonMin, index)
    if (opts.fallbackId !== undefined) {
      if (!isValidNodeId(opts.fallbackId)) {
        throw new ShoalError('usage', `fallback node id "${opts.fallbackId}" is not a valid DNS label: use lower-case letters, digits and '-', at most 63 characters`)
      }
      warnings.push(`no usable hardware identity (${why}); using the operator's id "${opts.fallbackId}"`)
      return { id: opts.fallbackId, decision: 'operator', comps: digest, components: verdicts, candidates: [], warnings }
    }
    throw new ShoalError(
      'no-identity',
      `no usable hardware identity: ${why}. Name this machine yourself: boot it with shoal.node_id=NAME on the kernel command line (or pass --node-id NAME), NAME being a DNS label unique in the cluster`,
    )
  }
  if (evidenceOf(strongLocal) < 3) {
    warnings.push(`only ${strongLocal.length} identifying component(s): a part swap on this machine may give it a new id (a disk WWN plus one more part, or 3 parts, survive one swap)`)
  }
  const localKinds = strongLocal.map((c) => digestKind(c)!)
  const disks = localKinds.filter((k) => KIND_GROUP[k] === 'disks').length
  if (disks > 0 && !localKinds.some((k) => BOARD_KINDS.has(k))) {
    // Without board ids, the disks carry the id: a machine left with none scores at most 0.375.
    warnings.push(`no usable board ids (DMI uuid or serials): ${disks === 1 ? 'removing this machine\'s only disk' : 'removing or replacing all of its disks'} gives it a new id`)
  }

  // Step 3: score every known machine that shares at least one usable value.
  const candidateIds = new Set<string>()
  for (const c of local) for (const id of index.holdersOf(c)) candidateIds.add(id)
  const scored: (Candidate & { matchedEntries: string[] })[] = []
  for (const id of candidateIds) {
    const theirs = index.compsOf(id).filter((c) => !isCommon(c))
    const s = scorePair(local, theirs)
    const cand: Candidate & { matchedEntries: string[] } = { id, score: s.score, matches: s.matches, matchedEntries: s.matched }
    if (s.score < threshold) cand.rejected = `score ${s.score.toFixed(2)} < ${threshold}`
    else if (s.matches < minMatches) cand.rejected = `only ${s.matches} matching component(s), ${minMatches} needed`
    else if (index.get(id)?.alive) cand.rejected = 'that node is alive elsewhere right now'
    scored.push(cand)
  }
  scored.sort((a, b) => b.score - a.score || b.matches - a.matches || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const candidates = scored.slice(0, 3).map(({ matchedEntries: _m, ...c }) => c)

  // Step 4: keep the best eligible known id.
  const best = scored.find((c) => !c.rejected)
  if (best) {
    const m = new Set(best.matchedEntries)
    for (const v of verdicts) if (v.hash && m.has(v.hash)) v.matched = true
    for (const v of verdicts) if (v.sharedBy && v.hash && m.has(v.hash)) v.sharedBy -= 1
    return { id: best.id, decision: 'matched', score: best.score, comps: digest, components: verdicts, candidates, warnings }
  }
  const alive = scored.find((c) => c.rejected === 'that node is alive elsewhere right now')
  if (alive) warnings.push(`this machine looks like ${alive.id} (score ${alive.score.toFixed(2)}), which is alive elsewhere: taking a new id`)

  // Step 5: a new id from the digest; skip derivations a non-matching known machine holds.
  let attempt = 0
  let id = deriveNodeId(digest)
  while (index.has(id)) id = deriveNodeId(digest, ++attempt)
  if (attempt > 0) warnings.push(`the id derived from this hardware is held by another known machine; took derivation #${attempt}`)
  return { id, decision: 'new', comps: digest, components: verdicts, candidates, warnings }
}

/**
 * How much independent evidence a digest offers (1 per component, 2 per disk WWN, 0 for
 * the CPU model). Below 3, one part swap can leave fewer than 2 and so a new id.
 */
export function evidenceOf(comps: readonly string[]): number {
  let n = 0
  for (const c of comps) {
    const k = digestKind(c)
    if (k && !WEAK_KINDS.has(k)) n += DOUBLE_EVIDENCE_KINDS.has(k) ? 2 : 1
  }
  return n
}

/** Step 3's score of two digests (fleet-common entries already removed). Exported for tests. */
export function scorePair(local: readonly string[], theirs: readonly string[]): { score: number; matches: number; matched: string[]; boardIgnored: boolean } {
  const L = new Set(local)
  const K = new Set(theirs)
  const groups = new Map<ComponentGroup, { inter: number; union: number }>()
  const matched: string[] = []
  const add = (entry: string, both: boolean) => {
    const kind = digestKind(entry)!
    const g = KIND_GROUP[kind]
    const acc = groups.get(g) ?? groups.set(g, { inter: 0, union: 0 }).get(g)!
    acc.union += KIND_WEIGHT[kind]
    if (both) {
      acc.inter += KIND_WEIGHT[kind]
      matched.push(entry)
    }
  }
  for (const e of L) add(e, K.has(e))
  for (const e of K) if (!L.has(e)) add(e, false)

  // Board ids come from one SMBIOS table: some equal and some different means a reused serial.
  const boardIgnored = boardInconsistent(L, K)
  if (boardIgnored) groups.delete('board')
  let num = 0
  let den = 0
  for (const [g, acc] of groups) {
    num += GROUP_WEIGHT[g] * (acc.union === 0 ? 0 : acc.inter / acc.union)
    den += GROUP_WEIGHT[g]
  }
  let matches = 0
  for (const e of matched) {
    const k = digestKind(e)!
    if (WEAK_KINDS.has(k) || (boardIgnored && BOARD_KINDS.has(k))) continue
    matches += DOUBLE_EVIDENCE_KINDS.has(k) ? 2 : 1
  }
  return { score: den === 0 ? 0 : num / den, matches, matched: boardIgnored ? matched.filter((e) => !BOARD_KINDS.has(digestKind(e)!)) : matched, boardIgnored }
}

function boardInconsistent(L: Set<string>, K: Set<string>): boolean {
  const lb = new Map<ComponentKind, string>()
  const kb = new Map<ComponentKind, string>()
  for (const e of L) if (BOARD_KINDS.has(digestKind(e)!)) lb.set(digestKind(e)!, e)
  for (const e of K) if (BOARD_KINDS.has(digestKind(e)!)) kb.set(digestKind(e)!, e)
  let same = 0
  let differ = 0
  for (const [kind, e] of lb) {
    const other = kb.get(kind)
    if (other === undefined) continue
    if (other === e) same++
    else differ++
  }
  return same > 0 && differ > 0
}

function explainNothingUsable(digest: readonly string[], verdicts: readonly ComponentVerdict[], commonMin: number, index: FleetView): string {
  if (verdicts.length === 0 && digest.length === 0) return 'no DMI ids, no disk serials or WWNs, no physical NIC with a permanent MAC were found'
  const parts: string[] = []
  const junk = verdicts.filter((v) => !v.kept && v.reason.startsWith('dropped:'))
  if (junk.length) parts.push(`${junk.length} value(s) were vendor placeholders or duplicates (${junk.slice(0, 3).map((v) => `${v.kind} "${v.value}"`).join(', ')})`)
  const common = digest.filter((c) => index.holdersOf(c).size >= commonMin)
  if (common.length) parts.push(`${common.length} value(s) are shared by ${commonMin} or more known machines`)
  const weak = digest.filter((c) => WEAK_KINDS.has(digestKind(c)!))
  if (weak.length) parts.push('a CPU model alone identifies nothing')
  if (parts.length === 0) parts.push('no DMI ids, no disk serials or WWNs, no physical NIC with a permanent MAC were found')
  return parts.join('; ')
}
