/**
 * The production Mounter: `mount` (busybox in the initramfs, util-linux elsewhere).
 * Needs root and the loop, squashfs and overlay modules (the runtime hook loads them).
 */
import { execFile } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { promisify } from 'node:util'
import { ShoalError } from '../protocol/errors.js'
import type { Mounter } from './root-stack.js'

const run = promisify(execFile)

async function mount(args: string[]): Promise<void> {
  try {
    await run('mount', args, { timeout: 60_000 })
  } catch (err) {
    const e = err as Error & { stderr?: string }
    throw new ShoalError('mount-failed', `mount ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: err })
  }
}

export const systemMounter: Mounter = {
  mkdirp: async (dir) => {
    await mkdir(dir, { recursive: true })
  },
  squashfs: (file, dir) => mount(['-t', 'squashfs', '-o', 'loop,ro', file, dir]),
  tmpfs: (dir) => mount(['-t', 'tmpfs', '-o', 'mode=0755', 'shoal-rw', dir]),
  overlay: (lowers, upper, work, target) =>
    mount(['-t', 'overlay', '-o', `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${work}`, 'shoal-root', target]),
}
