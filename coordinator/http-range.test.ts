import { describe, expect, it } from 'vitest'
import { fileEtag, notModified, parseRange, rangeStillValid } from './http-range.js'

describe('parseRange', () => {
  const size = 1000
  it.each([
    [undefined, { kind: 'full' }],
    ['bytes=0-0', { kind: 'partial', start: 0, end: 0 }],
    ['bytes=0-999', { kind: 'partial', start: 0, end: 999 }],
    ['bytes=990-5000', { kind: 'partial', start: 990, end: 999 }],
    ['bytes=500-', { kind: 'partial', start: 500, end: 999 }],
    ['bytes=-1', { kind: 'partial', start: 999, end: 999 }],
    ['bytes=-5000', { kind: 'partial', start: 0, end: 999 }],
    ['BYTES= 10-20 ', { kind: 'partial', start: 10, end: 20 }],
    ['bytes=0-1, 4-5', { kind: 'full' }],
  ])('%s', (h, want) => expect(parseRange(h, size)).toEqual(want))

  it.each(['bytes=', 'bytes=-', 'bytes=a-b', 'bytes=5-4', 'bytes=1000-', 'bytes=1000-1001', 'bytes=-0', 'lines=0-1', 'bytes=0-1,x', `bytes=${'9'.repeat(30)}-`])(
    '%s is unsatisfiable',
    (h) => expect(parseRange(h, size).kind).toBe('unsatisfiable'),
  )

  it('nothing is satisfiable in an empty file', () => {
    expect(parseRange('bytes=0-', 0).kind).toBe('unsatisfiable')
    expect(parseRange('bytes=-1', 0).kind).toBe('unsatisfiable')
  })
})

describe('validators', () => {
  const etag = fileEtag(10, 1700000000000)
  it('If-None-Match: exact, weak, list and * match; others do not', () => {
    expect(notModified(etag, etag)).toBe(true)
    expect(notModified(`W/${etag}`, etag)).toBe(true)
    expect(notModified(`"x", ${etag}`, etag)).toBe(true)
    expect(notModified('*', etag)).toBe(true)
    expect(notModified('"x"', etag)).toBe(false)
    expect(notModified(undefined, etag)).toBe(false)
  })
  it('If-Range compares strongly, or by date', () => {
    const lm = new Date(1700000000000).toUTCString()
    expect(rangeStillValid(undefined, etag, lm)).toBe(true)
    expect(rangeStillValid(etag, etag, lm)).toBe(true)
    expect(rangeStillValid(`W/${etag}`, etag, lm)).toBe(false)
    expect(rangeStillValid(lm, etag, lm)).toBe(true)
    expect(rangeStillValid('Tue, 01 Jan 2019 00:00:00 GMT', etag, lm)).toBe(false)
  })
  it('the ETag changes with size or mtime', () => {
    expect(fileEtag(10, 1)).not.toBe(fileEtag(11, 1))
    expect(fileEtag(10, 1)).not.toBe(fileEtag(10, 2))
  })
})
