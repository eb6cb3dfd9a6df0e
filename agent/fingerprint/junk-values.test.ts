import { describe, expect, it } from 'vitest'
import { junkReason } from './junk-values.js'

describe('junk values', () => {
  it.each([
    ['sys', 'To Be Filled By O.E.M.'],
    ['sys', '  to be filled by o.e.m.  '],
    ['board', 'Default string'],
    ['sys', 'System Serial Number'],
    ['board', 'Base Board Serial Number'],
    ['chassis', 'Chassis Serial Number'],
    ['sys', '0123456789'],
    ['sys', '123456789'],
    ['sys', '9876543210'],
    ['board', 'None'],
    ['board', 'N/A'],
    ['sys', 'Not Specified'],
    ['dimm', 'Samsung/00000000'],
    ['dimm', 'Micron/SerNum0'],
    ['uuid', '00000000-0000-0000-0000-000000000000'],
    ['uuid', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'],
    ['uuid', '03000200-0400-0500-0006-000700080009'],
    ['disk', 'AA000000000000000000'],
    ['disk', '0000000000000000'],
    ['wwn', 'eui.00000000000000000000000000000000'],
    ['nic', '00:00:00:00:00:00'],
    ['nic', 'ff:ff:ff:ff:ff:ff'],
    ['nic', '01:00:5e:00:00:01'],
    ['sys', 'XXXXXXXXXX'],
    ['sys', ''],
    ['sys', 'abc'],
  ] as const)('%s "%s" is junk', (kind, value) => {
    expect(junkReason(kind, value)).toBeDefined()
  })

  it.each([
    ['sys', 'J8T3NK2'], // a Dell service tag
    ['sys', 'MXQ1234ABC'],
    ['board', 'WM19AS012345'],
    ['board', '.J8T3NK2.CN7016371F0123.'],
    ['uuid', '4c4c4544-0038-3010-8052-b4c04f4e3432'],
    ['uuid', '00000000-0000-0000-0000-0cc47a1b2c3d'], // Supermicro: the board MAC in the uuid
    ['wwn', 'naa.5000c500a1b2c3d4'],
    ['disk', 'WD-WCC7K1234567'],
    ['disk', 't10.ATA     Samsung SSD 860 EVO 1TB                 S3Z9NB0K123456A'],
    ['nic', '52:54:00:12:34:56'],
    ['nic', 'B0-26-28-AB-CD-EF'],
    ['dimm', 'Samsung/3A1B2C4D'],
    ['ppin', '0x4e2a1c3b5d6f7081'],
    ['cpu', 'Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz'],
  ] as const)('%s "%s" is kept', (kind, value) => {
    expect(junkReason(kind, value)).toBeUndefined()
  })
})
