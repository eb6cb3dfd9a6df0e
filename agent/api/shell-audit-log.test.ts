import { describe, expect, it } from 'vitest'
import { pack } from '../protocol/frame.js'
import type { ShellSession } from '../protocol/shell-channel.js'
import { ShellAuditLog } from './shell-audit-log.js'

const session = (id: string, node: string, startedAt: number): ShellSession => ({
  id: id.padStart(16, '0'),
  node,
  operator: 'alice',
  key: 'ab'.repeat(32),
  command: null,
  tty: true,
  remote: '127.0.0.1:1',
  startedAt,
  durationMs: 5,
  exitCode: 0,
  signal: null,
  end: 'exit',
  bytesIn: 1,
  bytesOut: 2,
})

describe('shell audit log', () => {
  it('keeps gossiped sessions newest first, bounded, and drops (counts) a node reporting another node or garbage', () => {
    const log = new ShellAuditLog(2)
    expect(log.addFromMesh('n1', pack(session('1', 'n1', 10)))).toBe(true)
    expect(log.addFromMesh('n2', pack(session('2', 'n1', 20)))).toBe(false) // n2 cannot speak for n1
    expect(log.addFromMesh('n2', new Uint8Array([0xc1]))).toBe(false)
    expect(log.addFromMesh('n2', pack({ ...session('3', 'n2', 30), operator: 7 }))).toBe(false)
    // A newer agent's record with a field this one does not know is kept (without it).
    expect(log.addFromMesh('n2', pack({ ...session('4', 'n2', 40), recording: 'x.cast' }))).toBe(true)
    expect(log.list('n2')[0]).not.toHaveProperty('recording')
    log.add(session('5', 'n2', 50))
    expect(log.list().map((s) => s.id.replace(/^0+/, ''))).toEqual(['5', '4'])
    expect(log.list('n2')).toHaveLength(2)
    expect(log.dropped).toBe(3)
  })
})
