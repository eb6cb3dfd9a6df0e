/**
 * Every vote message enters here: the wave check (asking the sender for a wave we missed),
 * the roster and signature checks, then dispatch by kind to the role it concerns. Bad input
 * is dropped and counted (counters['dropped.<reason>']) and never reaches a quorum.
 * Messages a role addresses to this very node (our own vote, withdraw, release) come back
 * here too, through `onOwn`, past the checks: the roles never call one another.
 */
import { DropReason } from '../errors.js'
import { verifyAs } from '../signing.js'
import { onGrantSeen, onNack, onResolutionSeen, onVote } from './candidate.js'
import { onSync, onSyncRequest, startRecovery } from './recovery.js'
import { onGrant, onQuery, onResolution, onRetire } from './resolution.js'
import { onRequest } from './voter.js'
import { signerOf, signingBytes, type SyncReqMsg, type VoteMessage, type WaveMsg } from './vote-messages.js'
import type { VoteCore } from './vote-core.js'

/** Counter names per message kind, built once (one per message received: a hot path at N=200). */
const IN_COUNTER = new Map<string, string>()
function inCounter(k: string): string {
  let name = IN_COUNTER.get(k)
  if (name === undefined) {
    name = `in.${k}`
    if (IN_COUNTER.size < 64) IN_COUNTER.set(k, name) // kinds come from validated messages: a handful
  }
  return name
}

export function onMessage(vn: VoteCore, from: string, m: VoteMessage): void {
  vn.count(inCounter(m.k))
  if (m.k === 'wave') return onWave(vn, from, m)
  if (m.k === 'sync?') return onSyncRequest(vn, from, m)
  if (m.k === 'sync' && m.waveMsg && vn.wave?.id !== m.waveMsg.id) onWave(vn, from, m.waveMsg)
  const w = vn.wave
  if (!w || m.wave !== w.id) {
    // We may have missed the wave's announcement: ask the sender for it (rate-limited).
    if ((!w || m.wave !== w.id) && vn.now >= vn.rec.wavePullAt && vn.role === 'node') {
      vn.rec.wavePullAt = vn.now + vn.cfg.syncRetryMs
      vn.send(from, vn.sign<SyncReqMsg>({ k: 'sync?', wave: '*', from: vn.id, nonce: ++vn.nonce }))
    }
    return vn.drop(from, 'unknown-wave', `${m.k} for wave ${m.wave}`)
  }
  const signer = signerOf(m)
  const key = signer === w.coord.id ? w.coord.key : vn.books.rosterKeys.get(signer)
  if (key === undefined) return vn.drop(from, DropReason.notOnRoster, `${m.k} signed by ${signer}`)
  if (('slot' in m) && m.slot >= w.slots) return vn.drop(from, DropReason.schema, `${m.k} for slot ${m.slot} of ${w.slots}`)
  if (!vn.verifySigner(m.k, signer, key, signingBytes(m), m.sig)) return vn.drop(from, DropReason.badSignature, `${m.k} from ${signer}`)
  dispatch(vn, from, m, signer === w.coord.id)
}

/** A message this node signed for itself (our own vote, withdraw, release, an operator decision): straight to its role. */
export function onOwn(vn: VoteCore, m: VoteMessage): void {
  dispatch(vn, vn.id, m, vn.wave !== undefined && vn.wave.coord.id === vn.id)
}

function dispatch(vn: VoteCore, from: string, m: VoteMessage, fromCoord: boolean): void {
  switch (m.k) {
    case 'req':
      if (fromCoord) return vn.drop(from, DropReason.notOnRoster, 'the coordinator is never a candidate')
      return onRequest(vn, m)
    case 'vote':
      return onVote(vn, m, fromCoord)
    case 'nack':
      return onNack(vn, m, fromCoord)
    case 'grant':
      if (fromCoord) return vn.drop(from, DropReason.notOnRoster, 'the coordinator never holds a slot')
      if (onGrant(vn, m)) onGrantSeen(vn, m)
      return
    case 'rel':
    case 'wd':
      if (fromCoord) return vn.drop(from, DropReason.notOnRoster, 'the coordinator never holds a slot')
      if (onResolution(vn, m)) onResolutionSeen(vn, m)
      return
    case 'force':
      if (!fromCoord) return vn.drop(from, DropReason.notOnRoster, 'force-release must come from the coordinator')
      if (onResolution(vn, m)) onResolutionSeen(vn, m)
      return
    case 'retire':
      if (!fromCoord) return vn.drop(from, DropReason.notOnRoster, 'retire must come from the coordinator')
      return onRetire(vn, m)
    case 'sync':
      return onSync(vn, m, fromCoord)
    case 'query':
      return onQuery(vn, m)
    case 'wave':
    case 'sync?':
      return // handled before the checks (onMessage)
  }
}

export function onWave(vn: VoteCore, from: string, m: WaveMsg): void {
  if (m.coord.key !== vn.coordKey) return vn.drop(from, DropReason.notOnRoster, `wave ${m.id} not from our coordinator`)
  if (!verifyAs('vote:wave', m.coord.key, signingBytes(m), m.sig, vn.keyring)) return vn.drop(from, DropReason.badSignature, `wave ${m.id}`)
  if (vn.wave) {
    if (vn.wave.id === m.id) return void vn.count('dup.wave')
    // One wave at a time: a later one replaces a finished/aborted one (the coordinator decides).
    if (m.startedAt <= vn.wave.startedAt) return vn.drop(from, DropReason.stale, `wave ${m.id} older than ${vn.wave.id}`)
  }
  adoptWave(vn, m)
}

export function adoptWave(vn: VoteCore, m: WaveMsg): void {
  vn.books.adopt(m)
  vn.cand.lease = undefined
  vn.cand.collecting = undefined
  vn.dirty = true
  vn.log.info({ component: 'vote', node: vn.id, wave: m.id, target: m.target, slots: m.slots, roster: m.roster.length }, 'wave')
  // A node booted well before the wave started cannot have voted in it.
  if (vn.rec.relearning && vn.bootAt + vn.cfg.maxClockSkewMs < m.startedAt) vn.rec.relearning = undefined
  // A node that may have forgotten, and learns only now of a wave that started before it
  // booted (its first syncs found nobody, e.g. it was cut off): it may have voted in it in
  // the life it forgot. It abstains and relearns before it votes or asks.
  else if (!vn.rec.relearning && vn.rec.forgetful && vn.bootAt + vn.cfg.maxClockSkewMs >= m.startedAt) startRecovery(vn, vn.now)
}
