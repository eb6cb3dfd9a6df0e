import { describe, expect, it } from 'vitest'
import { formatLayersParam, parseLayersParam } from './layers-param.js'

describe('shoal.layers=', () => {
  it('chunks (with an upload cap in MiB/s), http, and absent; the last word wins', () => {
    expect(parseLayersParam('console=ttyS0')).toBeUndefined()
    expect(parseLayersParam('shoal.layers=chunks')).toEqual({ chunked: true })
    expect(parseLayersParam('shoal.layers=chunks,upload=12.5')).toEqual({ chunked: true, uploadBytesPerSec: 12.5 * 1048576 })
    expect(parseLayersParam('shoal.layers=chunks,upload=0')).toEqual({ chunked: true, uploadBytesPerSec: 0 })
    expect(parseLayersParam('shoal.layers=chunks shoal.layers=http')).toEqual({ chunked: false })
    expect(parseLayersParam('shoal.layers=http shoal.layers=chunks')).toEqual({ chunked: true })
    for (const p of [{ chunked: true }, { chunked: false }, { chunked: true, uploadBytesPerSec: 40 * 1048576 }]) expect(parseLayersParam(formatLayersParam(p))).toEqual(p)
  })

  it('says what is wrong with a malformed word instead of guessing', () => {
    expect(() => parseLayersParam('shoal.layers=chunk')).toThrow(/is not shoal\.layers=chunks/)
    expect(() => parseLayersParam('shoal.layers=http,upload=5')).toThrow(/is not shoal\.layers=chunks/)
    expect(() => parseLayersParam('shoal.layers=chunks,upload=fast')).toThrow(/"upload=fast" is not upload=MIB/)
    expect(() => parseLayersParam('shoal.layers=chunks,upload=-1')).toThrow(/upload=MIB/)
  })
})
