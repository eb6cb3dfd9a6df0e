/**
 * Making SquashFS images with mksquashfs, reproducibly (fixed times, root-owned), and a
 * content hash of a staging tree so an unchanged layer is not compressed again.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, readdir, readlink, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ShoalError } from '../agent/protocol/errors.js'

const run = promisify(execFile)

/** Compresses `dir` into `outFile` (written to a temporary name, then renamed). */
export async function mksquashfs(dir: string, outFile: string): Promise<void> {
  const tmp = `${outFile}.tmp${process.pid}`
  await rm(tmp, { force: true })
  try {
    await run('mksquashfs', [dir, tmp, '-comp', 'zstd', '-noappend', '-all-root', '-no-xattrs', '-mkfs-time', '0', '-all-time', '0', '-quiet', '-no-progress'], {
      maxBuffer: 16 << 20,
    })
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string }
    if (e.code === 'ENOENT') throw new ShoalError('missing-tool', 'mksquashfs not found: install squashfs-tools (npm run setup)')
    throw new ShoalError('build-failed', `mksquashfs ${dir} failed: ${e.stderr?.trim() || e.message}`, { cause: err })
  }
  await rename(tmp, outFile)
}

export { sha256File } from '../agent/boot/sha256-file.js'

/** Hash of a tree's paths, modes, link targets and contents, in sorted order. */
export async function treeHash(dir: string): Promise<string> {
  const h = createHash('sha256')
  async function walk(rel: string): Promise<void> {
    const entries = (await readdir(join(dir, rel))).sort()
    for (const name of entries) {
      const r = rel ? `${rel}/${name}` : name
      const p = join(dir, r)
      const st = await lstat(p)
      h.update(`${r}\0${st.mode}\0`)
      if (st.isSymbolicLink()) h.update(`->${await readlink(p)}\0`)
      else if (st.isDirectory()) await walk(r)
      else {
        h.update(`${st.size}\0`)
        for await (const chunk of createReadStream(p)) h.update(chunk as Buffer)
      }
    }
  }
  await walk('')
  return h.digest('hex')
}
