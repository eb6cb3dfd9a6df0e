import { describe, expect, it } from 'vitest'
import { encodeMemoryDevice, encodeProcessor, parseMemoryDevice, parseProcessor, parseSmbiosStructure } from './smbios.js'

describe('SMBIOS structures', () => {
  it('round-trips a memory device, including the extended size of a 64 GiB module', () => {
    expect(parseMemoryDevice(encodeMemoryDevice({ locator: 'DIMM_A1', sizeMiB: 16384, manufacturer: 'Samsung', serial: '3A1B2C4D', part: 'M393A2K40CB2', speedMTs: 2933 }))).toEqual({
      locator: 'DIMM_A1', bank: undefined, sizeBytes: 16 * 2 ** 30, populated: true, speedMTs: 2933, manufacturer: 'Samsung', serial: '3A1B2C4D', part: 'M393A2K40CB2',
    })
    expect(parseMemoryDevice(encodeMemoryDevice({ locator: 'B1', sizeMiB: 65536, serial: '1' }))?.sizeBytes).toBe(64 * 2 ** 30)
    expect(parseMemoryDevice(encodeMemoryDevice({ locator: 'empty', sizeMiB: 0 }))?.populated).toBe(false)
  })

  it('reads a processor version', () => {
    expect(parseProcessor(encodeProcessor({ version: 'AMD EPYC 7302P 16-Core Processor', manufacturer: 'AMD' }))).toMatchObject({ version: 'AMD EPYC 7302P 16-Core Processor', manufacturer: 'AMD', populated: true })
  })

  it('never throws on garbage', () => {
    const inputs = [new Uint8Array(0), new Uint8Array([17]), new Uint8Array([17, 255, 0, 0]), new Uint8Array([4, 2, 0, 0]), Uint8Array.from({ length: 300 }, (_, i) => (i * 37) & 255)]
    for (let n = 0; n < 200; n++) inputs.push(Uint8Array.from({ length: n }, (_, i) => (i * 131 + n) & 255))
    for (const raw of inputs) {
      expect(() => parseSmbiosStructure(raw)).not.toThrow()
      expect(() => parseMemoryDevice(raw)).not.toThrow()
      expect(() => parseProcessor(raw)).not.toThrow()
    }
    expect(parseMemoryDevice(encodeProcessor({ version: 'x' }))).toBeUndefined()
  })
})
