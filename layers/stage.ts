/**
 * Helpers that fill a staging directory (the future root of a layer or of the initramfs)
 * from the build host: busybox with its applet links, the host's node binary (stripped,
 * cached) with the shared libraries it links, and plain files. Both the layer builder and
 * the initramfs builder use them, so the runtime inside a VM is the one the tests ran on.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmod, copyFile, mkdir, readlink, rename, stat, symlink, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { ShoalError } from '../agent/protocol/errors.js'

const run = promisify(execFile)

export const BUSYBOX_PATH = '/bin/busybox'

/** Writes `content` at `rel` under `root`, creating parents. */
export async function put(root: string, rel: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  const p = join(root, rel)
  await mkdir(dirname(p), { recursive: true })
  await writeFile(p, content)
  await chmod(p, mode)
}

/** Copies busybox (must be static) to /bin/busybox and links every applet it has into /bin. */
export async function installBusybox(root: string, busybox = BUSYBOX_PATH): Promise<void> {
  if (!existsSync(busybox)) throw new ShoalError('missing-tool', `${busybox} not found: install busybox-static (npm run setup)`)
  await mkdir(join(root, 'bin'), { recursive: true })
  await mkdir(join(root, 'sbin'), { recursive: true })
  await copyFile(busybox, join(root, 'bin/busybox'))
  await chmod(join(root, 'bin/busybox'), 0o755)
  const { stdout } = await run(busybox, ['--list'])
  for (const applet of stdout.split('\n').filter(Boolean)) {
    const dir = ['init', 'switch_root', 'insmod', 'modprobe', 'poweroff', 'reboot', 'halt'].includes(applet) ? 'sbin' : 'bin'
    const link = join(root, dir, applet)
    if (!existsSync(link)) await symlink(dir === 'bin' ? 'busybox' : '../bin/busybox', link)
  }
}

/**
 * Installs the host's node at /usr/bin/node plus every shared library `ldd` names, at the
 * same paths. The stripped copy is cached under cacheDir keyed by the binary's size and mtime.
 */
export async function installNode(root: string, cacheDir: string, nodePath = process.execPath): Promise<string[]> {
  const stripped = await strippedNode(cacheDir, nodePath)
  await mkdir(join(root, 'usr/bin'), { recursive: true })
  await copyFile(stripped, join(root, 'usr/bin/node'))
  await chmod(join(root, 'usr/bin/node'), 0o755)
  const installed = ['/usr/bin/node']
  const { stdout } = await run('ldd', [nodePath])
  for (const lib of stdout.match(/\/[^\s)]+/g) ?? []) {
    const dest = join(root, lib)
    await mkdir(dirname(dest), { recursive: true })
    await copyFile(await realPath(lib), dest)
    installed.push(lib)
  }
  return installed
}

async function strippedNode(cacheDir: string, nodePath: string): Promise<string> {
  const st = await stat(nodePath)
  const key = createHash('sha256').update(`${nodePath}:${st.size}:${st.mtimeMs}`).digest('hex').slice(0, 16)
  const out = join(cacheDir, 'node', `node-${process.version}-${key}`)
  if (existsSync(out)) return out
  await mkdir(dirname(out), { recursive: true })
  const tmp = `${out}.tmp${process.pid}`
  await copyFile(nodePath, tmp)
  await run('strip', [tmp]).catch(() => undefined) // an unstripped node only costs size
  await rename(tmp, out)
  return out
}

async function realPath(p: string): Promise<string> {
  let cur = p
  for (let i = 0; i < 16; i++) {
    try {
      const target = await readlink(cur)
      cur = target.startsWith('/') ? target : join(dirname(cur), target)
    } catch {
      return cur
    }
  }
  return cur
}
