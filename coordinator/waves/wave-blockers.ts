/**
 * Why a wave is not moving, per waiting node, in words and with the numbers behind them —
 * what `shoal upgrade status`, the waves API, the metrics and the cluster page show — and
 * the start check that refuses a wave that can never finish. Pure: judged from the
 * coordinator's mesh view (each agent's gossiped record: phase, gate verdicts and their
 * reasons, the Ceph/Kubernetes stop facts), the vote's slots and the wave's hold.
 *
 * Reasons, by code (a bounded set: the metric label):
 *   hold      the wave is paused/aborted, halted, outside its window, or alerts fire
 *   budget    K nodes are unavailable already (holders and any other cause)
 *   gate      the node's own pre-reboot gate fails now (its reasons, as it published them)
 *   not-ready the node is not alive and ready on the mesh (booting, suspect, dead, unseen)
 *   never     a cause that cannot clear by itself (agent/protocol/stop-facts.ts), with the fix
 */
import type { MaxUnavailable } from '../../agent/protocol/max-unavailable.js'
import type { MemberView } from '../../agent/protocol/mesh-types.js'
import { groupBlockers, neverStops, type Blocker } from '../../agent/protocol/stop-facts.js'
import type { Hold } from '../../agent/protocol/wave-control.js'

export const BLOCK_CODES = ['hold', 'budget', 'gate', 'not-ready', 'never'] as const
export type BlockCode = (typeof BLOCK_CODES)[number]

export interface NodeBlock {
  code: BlockCode
  /** Words and numbers, e.g. "budget: K=1, 1 unavailable now (n2 rebooting)". */
  message: string
  /** What the operator can change (never-clearing causes). */
  fix?: string
  /** True when it cannot clear by itself. */
  permanent: boolean
}

export interface BlockInputs {
  target: string
  maxUnavailable: MaxUnavailable
  roster: readonly string[]
  retired: ReadonlySet<string>
  /** Slot holders now (the coordinator's vote view). */
  holders: ReadonlySet<string>
  member: (id: string) => MemberView | undefined
  hold: Hold
}

/** Why a member is unavailable (not alive and ready on the mesh), or undefined when it is available. */
export function unavailable(m: MemberView | undefined): string | undefined {
  if (!m) return 'unseen'
  if (m.status !== 'alive') return m.status
  const p = m.record?.phase
  if (!p) return 'no record'
  if (p !== 'ready') return p
  if (m.record!.health.status === 'critical') return 'critical health'
  return undefined
}

/** Why each waiting candidate (not on the target, no slot, not retired) is not moving now. */
export function waveBlocks(i: BlockInputs): Map<string, NodeBlock[]> {
  const out = new Map<string, NodeBlock[]>()
  const down: string[] = []
  for (const id of i.roster) {
    if (i.retired.has(id)) continue
    const why = i.holders.has(id) ? 'holding a slot' : unavailable(i.member(id))
    if (why) down.push(`${id} ${why}`)
  }
  const budgetFull = down.length >= i.maxUnavailable
  for (const id of i.roster) {
    if (i.retired.has(id) || i.holders.has(id)) continue
    const m = i.member(id)
    const r = m?.record
    if (r && r.image === i.target) continue
    const list: NodeBlock[] = []
    for (const b of neverStops(r?.health.stop)) list.push({ code: 'never', message: b.message, fix: b.fix, permanent: true })
    if (i.hold.held) list.push({ code: 'hold', message: `hold: ${i.hold.reason ?? 'new slots held back'}`, permanent: false })
    const self = unavailable(m)
    if (self) list.push({ code: 'not-ready', message: `not ready: ${self}${m ? '' : ' (not seen on the mesh)'}`, permanent: false })
    else if (budgetFull) {
      const shown = down.slice(0, 4).join(', ') + (down.length > 4 ? `, +${down.length - 4} more` : '')
      list.push({ code: 'budget', message: `budget: K=${i.maxUnavailable}, ${down.length} unavailable now (${shown})`, permanent: false })
    }
    const g = r?.health.gates
    if (g && !g.pre) {
      const why = g.why?.length ? g.why.join('; ') : 'its pre-reboot gate fails (no reason published: an older agent)'
      list.push({ code: 'gate', message: `pre-reboot gate: ${why}`, permanent: false })
    }
    if (list.length) out.set(id, list)
  }
  return out
}

/** Counts of waiting nodes by their first (most telling) reason: the metric's values. */
export function blockedCounts(blocks: ReadonlyMap<string, NodeBlock[]>): Record<BlockCode, number> {
  const counts = Object.fromEntries(BLOCK_CODES.map((c) => [c, 0])) as Record<BlockCode, number>
  for (const list of blocks.values()) {
    // A cause that never clears outranks everything; then the node's own state, the hold, the budget, its gate.
    const order: BlockCode[] = ['never', 'not-ready', 'hold', 'budget', 'gate']
    const first = order.find((c) => list.some((b) => b.code === c))
    if (first) counts[first]++
  }
  return counts
}

export interface StartVerdict {
  /** Causes that make the wave unable to ever finish, each with the candidates it stops and the fix. */
  never: { message: string; fix: string; nodes: string[] }[]
  /** Candidates whose agents published no stop facts (no Ceph, or an older agent): not judged. */
  unknown: string[]
}

/**
 * Could every candidate ever pass its pre-reboot gate on its own? Judged from each agent's
 * stop facts: pools' size/min_size against the CRUSH failure domains, ok-to-stop with
 * nothing else down, PodDisruptionBudgets that allow nothing.
 */
export function startVerdict(candidates: readonly string[], member: (id: string) => MemberView | undefined): StartVerdict {
  const byNode = new Map<string, Blocker[]>()
  const unknown: string[] = []
  for (const id of candidates) {
    const stop = member(id)?.record?.health.stop
    if (!stop) unknown.push(id)
    const b = neverStops(stop)
    if (b.length) byNode.set(id, b)
  }
  return { never: groupBlockers(byNode).map((g) => ({ message: g.blocker.message, fix: g.blocker.fix, nodes: g.nodes })), unknown }
}

/** The refusal text: every cause, the nodes it stops, what to change, and how to override. */
export function refusalText(v: StartVerdict, total: number): string {
  const lines = [`this wave can never finish: ${new Set(v.never.flatMap((n) => n.nodes)).size} of ${total} candidate(s) can never pass their pre-reboot gate on their own`]
  for (const n of v.never) lines.push(`- ${n.message} (${nodesText(n.nodes)}); fix: ${n.fix}`)
  lines.push('change that and start again, or start anyway with --force (the wave would wait, then halt when it stalls)')
  return lines.join('\n')
}

const nodesText = (ns: readonly string[]) => (ns.length <= 6 ? ns.join(', ') : `${ns.slice(0, 6).join(', ')} and ${ns.length - 6} more`)
