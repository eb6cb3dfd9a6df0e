/**
 * The boot agent's code cache is made after warmCodeCache() ran (layers/code-cache.ts): it must
 * really run the boot up to the first enrollment attempt (else the cache holds less than it
 * claims), and touch nothing but a closed loopback port and the build host's /sys (read only).
 */
import { describe, expect, it } from 'vitest'
import { warmCodeCache } from './main.js'

describe('the boot agent warm-up for its code cache', () => {
  it('runs the boot to its first enrollment attempt, refused by a closed loopback port, and stops there', async () => {
    const said = await warmCodeCache()
    expect(said.some((l) => /^machine \S+: /.test(l))).toBe(true)
    expect(said.at(-1)).toMatch(/^enrolling with http:\/\/127\.0\.0\.1:1 failed: .*; retrying in/)
    expect(said.filter((l) => l.startsWith('enrolling with'))).toHaveLength(1)
  })
})
