import { describe, expect, it } from 'vitest'
import type { MemberView, NodeRecordBody } from '../../agent/protocol/mesh-types.js'
import { nodeWaveState } from './wave-progress.js'

function member(patch: Partial<NodeRecordBody> = {}, status: MemberView['status'] = 'alive'): MemberView {
  const record: NodeRecordBody = { id: 'n1', key: '00'.repeat(32), inc: 0, ver: 1, image: 'v1', phase: 'ready', domain: 'd', inv: {}, health: { status: 'ok', conditions: [] }, comps: [], ...patch }
  return { id: 'n1', status, inc: 0, updatedAt: 0, statusSince: 0, record }
}
const holds = { slot: 0, term: 3 }
const st = (m: MemberView | undefined, h?: typeof holds, retired = false) => nodeWaveState({ target: 'v2', member: m, holds: h, retired })

describe('nodeWaveState', () => {
  it('follows a node through its cycle', () => {
    expect(st(member())).toEqual({ state: 'waiting' })
    expect(st(member(), holds)).toEqual({ state: 'holding' })
    expect(st(member({ phase: 'draining' }), holds).state).toBe('draining')
    expect(st(member({ phase: 'rebooting' }), holds).state).toBe('rebooting')
    expect(st(undefined, holds)).toEqual({ state: 'rebooting', reason: 'not seen on the mesh' })
    expect(st(member({}, 'dead'), holds)).toEqual({ state: 'rebooting', reason: 'dead on the mesh' })
    expect(st(member({ phase: 'verifying', image: 'v2' }), holds).state).toBe('verifying')
    expect(st(member({ image: 'v2' }), holds)).toEqual({ state: 'verifying', reason: 'on the target; slot not yet released' })
    expect(st(member({ image: 'v2' }))).toEqual({ state: 'done' })
  })

  it('says why a node failed or waits', () => {
    const cond = { id: 'drain-deadline', severity: 'critical' as const, since: 0, message: 'pod web-1 blocks the drain (PDB)', source: 'executor' }
    expect(st(member({ phase: 'failed', health: { status: 'critical', conditions: [cond] } }), holds)).toEqual({ state: 'failed', reason: 'drain-deadline: pod web-1 blocks the drain (PDB)' })
    expect(st(member({ phase: 'failed' }))).toEqual({ state: 'failed', reason: 'the node reports phase failed' })
    expect(st(undefined)).toEqual({ state: 'waiting', reason: 'not seen on the mesh' })
    expect(st(member({}, 'suspect'))).toEqual({ state: 'waiting', reason: 'suspect on the mesh' })
    expect(st(member(), undefined, true)).toEqual({ state: 'done', reason: 'retired by the operator' })
  })

  it('a holder gone down mid-drain reads rebooting, not draining; a finished node stays done while its liveness flaps (seen in the QEMU wave)', () => {
    expect(st(member({ phase: 'draining' }, 'dead'), holds)).toEqual({ state: 'rebooting', reason: 'dead on the mesh' })
    expect(st(member({ phase: 'draining' }, 'suspect'), holds)).toEqual({ state: 'rebooting', reason: 'suspect on the mesh' })
    expect(st(member({ image: 'v2' }, 'suspect'))).toEqual({ state: 'done', reason: 'suspect on the mesh' })
    expect(st(member({ image: 'v1' }, 'suspect'))).toEqual({ state: 'waiting', reason: 'suspect on the mesh' })
  })
})
