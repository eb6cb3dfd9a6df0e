/**
 * The boot agent asks its peers who it is. Before enrolling, it fetches the known
 * fingerprints of every agent named by `shoal.peers=` (all at once, each bounded by
 * peerTimeoutMs and peerAnswerMaxBytes), merges the answers (mergeKnownFingerprints: the
 * newest record of each node wins) and resolves its component digest against them with
 * the same resolveDigest the coordinator runs. A matched id is what it proposes at
 * enrollment — and what it already knows while the coordinator is unreachable.
 *
 * The coordinator's word wins: it resolves the digest against every node it enrolled and
 * its answer is the id the node takes; the peers' id only fills in what the coordinator
 * does not know (it keeps a proposed id that no enrolled node holds, e.g. after the
 * coordinator was restored from an older backup). A peer that is down, slow, answers
 * garbage or too much is skipped with one console line and counted; asking peers never
 * fails the boot.
 */
import { ShoalError } from '../protocol/errors.js'
import { mergeKnownFingerprints, parseMeshFingerprints, type MeshFingerprint } from '../fingerprint/mesh-fingerprints.js'
import { resolveDigest } from '../fingerprint/resolve-identity.js'
import type { MachineIdentity } from './machine-identity.js'
import { parsePeersParam } from '../protocol/kernel-params/index.js'

export const PEER_DROP_REASONS = ['unreachable', 'http-status', 'too-large', 'not-json', 'schema'] as const
export type PeerDropReason = (typeof PEER_DROP_REASONS)[number]

export interface PeerReport {
  /** Peers asked (valid shoal.peers= entries). */
  asked: number
  /** Peers whose answer was used. */
  answered: number
  /** Answers dropped, by reason. */
  dropped: Record<PeerDropReason, number>
  /** Distinct machines in the merged answers. */
  known: number
  /**
   * matched: the peers know this machine (`id`, `score`); new: they answered and none of
   * the machines they know is this one; none: no peer configured, or none answered.
   */
  decision: 'matched' | 'new' | 'none'
  id?: string
  score?: number
}

export interface PeerIdentityPorts {
  readCmdline(): Promise<string>
  /** GET /v1/fingerprints of the agent at HOST:PORT, JSON-decoded (agent/boot/peer-client.ts); throws ShoalError('peer-…'). */
  askPeer?(address: string): Promise<unknown>
  say(line: string): void
}

/** Resolves `machine` against its peers' known fingerprints; returns it with the id to propose. Never throws. */
export async function identifyWithPeers(ports: PeerIdentityPorts, machine: MachineIdentity): Promise<{ machine: MachineIdentity; peers: PeerReport }> {
  const report: PeerReport = { asked: 0, answered: 0, dropped: Object.fromEntries(PEER_DROP_REASONS.map((r) => [r, 0])) as Record<PeerDropReason, number>, known: 0, decision: 'none' }
  let param
  try {
    param = parsePeersParam(await ports.readCmdline())
  } catch {
    return { machine, peers: report }
  }
  for (const s of param.skipped) ports.say(`shoal.peers: skipping ${s}`)
  if (param.peers.length === 0) return { machine, peers: report }
  if (!ports.askPeer) {
    ports.say('shoal.peers is set but this boot agent cannot ask peers; resolving at the coordinator only')
    return { machine, peers: report }
  }
  const ask = ports.askPeer.bind(ports)
  report.asked = param.peers.length
  const settled = await Promise.allSettled(param.peers.map((p) => ask(p)))
  const answers: MeshFingerprint[][] = []
  settled.forEach((s, i) => {
    const peer = param.peers[i]!
    if (s.status === 'fulfilled') {
      const parsed = parseMeshFingerprints(s.value)
      if (parsed.ok) {
        answers.push(parsed.entries)
        return
      }
      report.dropped.schema++
      ports.say(`peer ${peer} skipped: its known fingerprints do not parse (${parsed.detail})`)
      return
    }
    const err = s.reason as unknown
    const reason = dropReasonOf(err)
    report.dropped[reason]++
    ports.say(`peer ${peer} skipped: ${err instanceof Error ? err.message : String(err)}`)
  })
  report.answered = answers.length
  if (answers.length === 0) {
    ports.say(`no peer answered (${report.asked} asked): the coordinator alone resolves this machine's id`)
    return { machine, peers: report }
  }
  const known = mergeKnownFingerprints(answers)
  report.known = known.length
  let r
  try {
    r = resolveDigest(machine.fingerprint.comps, known)
  } catch (err) {
    // No usable component (only the operator's shoal.node_id= names this machine): keep it.
    ports.say(`peers cannot help: ${err instanceof ShoalError ? err.message : String(err)}`)
    return { machine, peers: report }
  }
  const from = `${report.answered} of ${report.asked} peers answered, ${report.known} machines known`
  if (r.decision === 'matched') {
    report.decision = 'matched'
    report.id = r.id
    report.score = Math.round(r.score! * 1000) / 1000
    ports.say(`peers know this machine as ${r.id} (score ${report.score}; ${from}): proposing it to the coordinator`)
  } else {
    report.decision = 'new'
    report.id = r.id
    ports.say(`peers know no machine like this one (${from}): a new machine, ${r.id}`)
    for (const w of r.warnings) if (/alive elsewhere/.test(w)) ports.say(w)
  }
  return { machine: { ...machine, fingerprint: { ...machine.fingerprint, id: r.id } }, peers: report }
}

/** One console line when the coordinator enrolled the machine under another id than its peers gave it. */
export function coordinatorOverrides(peers: PeerReport, enrolledId: string): string | undefined {
  if (peers.decision !== 'matched' || peers.id === enrolledId) return undefined
  return `peers knew this machine as ${peers.id}, the coordinator enrolled it as ${enrolledId}: the coordinator's word wins`
}

function dropReasonOf(err: unknown): PeerDropReason {
  const code: string = err instanceof ShoalError ? err.code : ''
  // peer-client's codes: the shared unreachable and too-large, and its own peer-http-status and peer-not-json.
  const reason = code.startsWith('peer-') ? code.slice(5) : code
  return (PEER_DROP_REASONS as readonly string[]).includes(reason) ? (reason as PeerDropReason) : 'unreachable'
}
