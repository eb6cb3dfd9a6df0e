import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['agent/**/*.test.ts', 'cli/**/*.test.ts', 'coordinator/**/*.test.ts', 'sim/**/*.test.ts', 'layers/**/*.test.ts',
      'initramfs-hooks/**/*.test.ts', 'test/**/*.test.ts'],
    // Native modules (classic-level, node-pty, sodium) are happiest in child processes.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Real Ceph / QEMU harnesses must not run twice at once on a 2-core machine.
    fileParallelism: true,
    reporters: ['default'],
  },
})
