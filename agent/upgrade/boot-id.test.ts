import { describe, expect, it } from 'vitest'
import { bootIdFor, KERNEL_BOOT_ID } from './boot-id.js'

describe('bootIdFor', () => {
  it('a real machine: the kernel boot id; unreadable: none (then no restart is told from a reboot)', () => {
    expect(bootIdFor('reboot', {}, (p) => (p === KERNEL_BOOT_ID ? '6f1c2d3e-0000-4000-8000-000000000001\n' : ''))).toBe('6f1c2d3e-0000-4000-8000-000000000001')
    expect(
      bootIdFor('reboot', {}, () => {
        throw new Error('ENOENT')
      }),
    ).toBeUndefined()
  })

  it('a process standing for a machine: SHOAL_BOOT_ID from its supervisor, else a new one per process', () => {
    expect(bootIdFor('exit', { SHOAL_BOOT_ID: 'boot-7' })).toBe('boot-7')
    const a = bootIdFor('exit', {})
    const b = bootIdFor('exit', {})
    expect(a).toMatch(/^[0-9a-f-]{36}$/)
    expect(a).not.toBe(b)
  })
})
