import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Roster } from '../protocol/roster.js'
import { mergeRosterFile } from './roster-file-watch.js'

const dir = mkdtempSync(join(tmpdir(), 'shoal-roster-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const a = { id: 'node-a', key: 'a'.repeat(64) }
const b = { id: 'node-b', key: 'b'.repeat(64) }

describe('mergeRosterFile', () => {
  it('adds members that appeared in the file to the live roster, and only those', async () => {
    const roster = new Roster([a])
    const path = join(dir, 'roster.json')
    writeFileSync(path, JSON.stringify({ cluster: 'lab', members: [a, b] }))
    expect(await mergeRosterFile(path, 'lab', roster)).toEqual(['node-b'])
    expect(roster.admits('node-b', b.key)).toBe(true)
    expect(await mergeRosterFile(path, 'lab', roster)).toEqual([])
  })

  it('leaves the roster untouched for a file of another cluster or one that does not parse', async () => {
    const roster = new Roster([a])
    const path = join(dir, 'other.json')
    writeFileSync(path, JSON.stringify({ cluster: 'other', members: [a, b] }))
    await expect(mergeRosterFile(path, 'lab', roster)).rejects.toThrow(/for cluster other/)
    writeFileSync(path, JSON.stringify({ cluster: 'lab', members: [{ id: 'x', key: 'short' }] }))
    await expect(mergeRosterFile(path, 'lab', roster)).rejects.toThrow(/invalid/)
    writeFileSync(path, '{"cluster":')
    await expect(mergeRosterFile(path, 'lab', roster)).rejects.toThrow()
    expect(roster.size).toBe(1)
  })
})
