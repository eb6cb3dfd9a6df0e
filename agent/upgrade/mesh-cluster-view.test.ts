import { describe, expect, it } from 'vitest'
import type { MemberView } from '../protocol/mesh-types.js'
import type { NodeRecordBody } from '../protocol/node-record.js'
import { MeshClusterView } from './mesh-cluster-view.js'

function member(id: string, phase: NodeRecordBody['phase'], pre: boolean, preWith?: string[]): MemberView {
  const record = { id, image: 'v1', phase, domain: 'd', health: { status: 'ok', conditions: [], gates: { pre, post: true, at: 0, ...(preWith ? { preWith } : {}) } } } as unknown as NodeRecordBody
  return { id, status: 'alive', inc: 1, updatedAt: 0, statusSince: 0, record }
}

describe('MeshClusterView', () => {
  it("sees this node's own record change at the next question, with no mesh event (the stuck last worker)", async () => {
    const members = new Map<string, MemberView>([
      ['w1', member('w1', 'ready', true)],
      ['w3', member('w3', 'ready', false)],
    ])
    const view = new MeshClusterView({ view: () => [...members.values()] }, { now: () => 0 })
    view.roster = ['w1', 'w3']
    expect(view.drainable('w3')).toBe(false)
    // The agent publishes its new pre gate verdict (updateSelf): the mesh emits no event for our own record.
    members.set('w3', member('w3', 'ready', true))
    await Promise.resolve()
    expect(view.drainable('w3')).toBe(true)
    expect(view.okToStop(['w3'])).toBe(true)
    members.set('w1', member('w1', 'rebooting', false))
    await Promise.resolve()
    expect(view.facts('w1')?.available).toBe(false)
  })

  it('within one synchronous run, one read of the mesh view serves every question', () => {
    let reads = 0
    const view = new MeshClusterView({ view: () => (reads++, [member('w1', 'ready', true)]) }, { now: () => 0 })
    for (let i = 0; i < 10; i++) view.facts('w1')
    expect(reads).toBe(1)
  })

  it('okToStop is the joint question: a candidate beside a draining holder passes only with a verdict computed jointly with it', async () => {
    const members = new Map<string, MemberView>([
      ['w1', member('w1', 'draining', false)],
      ['w2', member('w2', 'ready', true)],
      ['w3', member('w3', 'ready', true)],
    ])
    const view = new MeshClusterView({ view: () => [...members.values()] }, { now: () => 0 })
    view.roster = ['w1', 'w2', 'w3']
    // w2's pre verdict was computed for itself alone while w1 drains: not an answer to "w1 and w2 together".
    expect(view.okToStop(['w1', 'w2'])).toBe(false)
    expect(view.jointSet('w2', ['w1'])).toEqual(['w1'])
    members.set('w2', member('w2', 'ready', true, ['w1']))
    await Promise.resolve()
    expect(view.okToStop(['w1', 'w2'])).toBe(true)
    // A third node dies: nobody's verdict covers it yet.
    members.set('w3', { ...member('w3', 'ready', true), status: 'dead' })
    await Promise.resolve()
    expect(view.okToStop(['w1', 'w2'])).toBe(false)
    expect(view.jointSet('w2', ['w1'])).toEqual(['w1', 'w3'])
  })
})
