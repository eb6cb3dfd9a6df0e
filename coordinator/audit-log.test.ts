import { describe, expect, it } from 'vitest'
import { silentLogger } from '../agent/protocol/ports.js'
import { AuditLog } from './audit-log.js'
import type { StateStore } from './state-store.js'

/** The three calls AuditLog makes, in memory; every batch waits until the test opens the gate. */
function slowStore() {
  const rows = new Map<string, unknown>()
  let open!: () => void
  const gate = new Promise<void>((r) => (open = r))
  const store = {
    keysWithPrefix: async () => [...rows.keys()].sort(),
    batch: async (ops: { type: string; key: string; value?: unknown }[]) => {
      await gate
      for (const op of ops) if (op.type === 'put') rows.set(op.key, op.value)
    },
    scan: async (prefix: string, _schema: unknown, opts?: { reverse?: boolean }) => {
      const out = [...rows.entries()].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1))
      return opts?.reverse ? out.reverse() : out
    },
  }
  return { store: store as unknown as StateStore, open }
}

describe('the audit log', () => {
  it('lists a refusal noted before the list, even while its write is still on its way (the refused request does not wait for it)', async () => {
    const { store, open } = slowStore()
    let now = 1_767_225_600_000
    const log = await AuditLog.open({ store, clock: { now: () => now }, log: silentLogger }, 100)
    log.refusal('id-in-use', 'node-a', { node: 'node-a', mac: '52:54:00:00:00:42' })
    log.refusal('id-in-use', 'node-a', { node: 'node-a', mac: '52:54:00:00:00:42' }) // within the minute: counted only
    const listed = log.list({ limit: 10, kind: 'refused' })
    open()
    const entries = await listed
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({ kind: 'refused', node: 'node-a', detail: { what: 'id-in-use', count: 1 } })
    now += 61_000
    log.refusal('id-in-use', 'node-a', { node: 'node-a', mac: '52:54:00:00:00:42' })
    const later = await log.list({ limit: 10, kind: 'refused' })
    expect(later.map((e) => e.detail?.count)).toEqual([1, 2])
  })
})
