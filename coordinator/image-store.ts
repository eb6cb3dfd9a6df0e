/**
 * Image versions on disk and their signed manifests. A version is a directory
 * `<imagesDir>/<version>/` holding a kernel, an initramfs, SquashFS layers and, optionally,
 * a `manifest.json` from the layers builder (file list and layer order). The coordinator
 * hashes every file itself (sha256 cached in level by size and mtime, so a restart does not
 * re-read gigabytes), checks them against manifest.json, and signs the result with the
 * cluster key. A version whose files do not match its manifest.json is not served.
 */
import { createReadStream } from 'node:fs'
import { readdir, readFile, realpath } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join, sep } from 'node:path'
import { ShoalError } from '../agent/protocol/errors.js'
import { ChunkHasher, LAYER_CHUNK_BYTES, type LayerChunks } from '../agent/protocol/layer-chunks.js'
import type { Keyring } from '../agent/protocol/ports.js'
import { ENROLL_API_VERSION, ImageFileName, type Manifest, type ManifestFile, ManifestSource, signManifest } from '../agent/protocol/enroll/index.js'
import { ImageVersion } from '../agent/protocol/image-version.js'
import { sha256File } from '../agent/boot/sha256-file.js'
import { statFile } from './static-file.js'
import { HashEntry, keys, type StateStore } from './state-store.js'

const KERNEL_NAMES = ['vmlinuz', 'bzImage', 'vmlinux', 'kernel']
const INITRAMFS_NAMES = ['initramfs.img', 'initrd.img', 'initramfs', 'initrd']
/** Default stacking order for workers; the controller layer is never stacked on a worker. */
const LAYER_ORDER = ['base', 'node', 'worker']
const SOURCE_NAME = 'manifest.json'

export interface ImageFileRef {
  path: string
}

export class ImageStore {
  private readonly cache = new Map<string, { stamp: string; manifest: Manifest; chunked: Manifest }>()
  private readonly building = new Map<string, Promise<{ manifest: Manifest; chunked: Manifest }>>()

  constructor(
    private readonly dir: string,
    private readonly state: StateStore,
    private readonly cluster: { id: string; keyring: Keyring },
  ) {}

  /** Version directories, sorted by natural order (v2 < v10). */
  async versions(): Promise<string[]> {
    let entries
    try {
      entries = await readdir(this.dir, { withFileTypes: true })
    } catch {
      return []
    }
    return entries
      .filter((e) => e.isDirectory() && ImageVersion.safeParse(e.name).success)
      .map((e) => e.name)
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
  }

  async hasVersion(version: string): Promise<boolean> {
    return (await this.versions()).includes(version)
  }

  /** The path of a servable file, or undefined (bad name, missing, not a regular file). */
  filePath(version: string, name: string): string | undefined {
    if (!ImageVersion.safeParse(version).success || !ImageFileName.safeParse(name).success) return undefined
    return join(this.dir, version, name)
  }

  /**
   * The real path of a file to serve, or undefined: a bad name, missing, or resolving
   * (through any symlink) to a place outside the images directory.
   */
  async servablePath(version: string, name: string): Promise<string | undefined> {
    const path = this.filePath(version, name)
    return path ? this.inTree(path) : undefined
  }

  /** `path` resolved through every symlink, when that lands inside the images directory. */
  private async inTree(path: string): Promise<string | undefined> {
    try {
      const [real, root] = await Promise.all([realpath(path), realpath(this.dir)])
      return real.startsWith(root + sep) ? real : undefined
    } catch {
      return undefined
    }
  }

  /**
   * The signed manifest of a version; rebuilt when any file changed. Throws ShoalError('image', …).
   * `chunks`: the variant whose layers carry their chunk hashes (docs/layers.md), signed too;
   * the plain one is what agents that predate chunks get.
   */
  async manifest(version: string, opts: { chunks?: boolean } = {}): Promise<Manifest> {
    if (!ImageVersion.safeParse(version).success) throw new ShoalError('not-found', `no image version "${version}"`)
    const stamp = await this.stamp(version)
    const hit = this.cache.get(version)
    if (hit && hit.stamp === stamp) return opts.chunks ? hit.chunked : hit.manifest
    const key = `${version}\n${stamp}`
    let p = this.building.get(key)
    if (!p) {
      p = this.build(version).finally(() => this.building.delete(key))
      this.building.set(key, p)
    }
    const built = await p
    this.cache.set(version, { stamp, ...built })
    return opts.chunks ? built.chunked : built.manifest
  }

  /** Names, sizes and mtimes of a version's files: changes whenever a file does. */
  private async stamp(version: string): Promise<string> {
    const vdir = join(this.dir, version)
    let names: string[]
    try {
      names = (await readdir(vdir)).sort()
    } catch {
      throw new ShoalError('not-found', `no image version "${version}" in ${this.dir}; build it with \`npm run layers\``)
    }
    const parts: string[] = []
    for (const n of names) {
      const st = await statFile(join(vdir, n))
      if (st) parts.push(`${n}:${st.size}:${st.mtimeMs}`)
    }
    return parts.join('|')
  }

  private async build(version: string): Promise<{ manifest: Manifest; chunked: Manifest }> {
    const vdir = join(this.dir, version)
    const names = (await readdir(vdir)).filter((n) => n !== SOURCE_NAME && !n.startsWith('.') && !/\.(tmp|partial)$/.test(n) && ImageFileName.safeParse(n).success).sort()
    let source: ManifestSource = {}
    const sourceText = await readFile(join(vdir, SOURCE_NAME), 'utf8').catch(() => undefined)
    if (sourceText !== undefined) {
      let json: unknown
      try {
        json = JSON.parse(sourceText)
      } catch (err) {
        throw new ShoalError('image', `${vdir}/${SOURCE_NAME} is not valid JSON (${(err as Error).message}); rebuild the version`)
      }
      const r = ManifestSource.safeParse(json)
      if (!r.success) throw new ShoalError('image', `${vdir}/${SOURCE_NAME}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
      source = r.data
      if (source.version !== undefined && source.version !== version) {
        throw new ShoalError('image', `${vdir}/${SOURCE_NAME} says version ${source.version} but lives in directory ${version}`)
      }
    }
    const listed = source.files ? source.files.map((f) => f.name) : names
    const files: ManifestFile[] = []
    const chunksOf = new Map<string, LayerChunks>()
    for (const name of listed) {
      const st = await statFile(join(vdir, name))
      if (!st) throw new ShoalError('image', `image ${version}: ${name} is listed in ${SOURCE_NAME} but missing in ${vdir}`)
      // A symlink may share a file between versions, never reach outside the images directory.
      const path = await this.inTree(join(vdir, name))
      if (!path) throw new ShoalError('image', `image ${version}: ${name} resolves to a place outside ${this.dir} (a symlink?); not hashing or serving it`)
      const { sha256, chunks } = await this.hashOf(version, name, path, st.size, st.mtimeMs)
      chunksOf.set(name, chunks)
      const want = source.files?.find((f) => f.name === name)
      if (want?.size !== undefined && want.size !== st.size) throw new ShoalError('image', `image ${version}: ${name} is ${st.size} bytes, ${SOURCE_NAME} says ${want.size}; rebuild the version`)
      if (want?.sha256 !== undefined && want.sha256 !== sha256) throw new ShoalError('image', `image ${version}: ${name} does not match its sha256 in ${SOURCE_NAME}; rebuild the version`)
      files.push({ name, sha256, size: st.size })
    }
    const have = new Set(files.map((f) => f.name))
    const kernel = source.kernel ?? KERNEL_NAMES.find((n) => have.has(n))
    const initramfs = source.initramfs ?? INITRAMFS_NAMES.find((n) => have.has(n))
    if (!kernel || !have.has(kernel)) throw new ShoalError('image', `image ${version} has no kernel (one of ${KERNEL_NAMES.join(', ')}) in ${vdir}`)
    if (!initramfs || !have.has(initramfs)) throw new ShoalError('image', `image ${version} has no initramfs (one of ${INITRAMFS_NAMES.join(', ')}) in ${vdir}`)
    const layers = source.layers ?? defaultLayers([...have])
    for (const l of layers) if (!have.has(l)) throw new ShoalError('image', `image ${version}: layer ${l} is not in ${vdir}`)
    const body = { v: ENROLL_API_VERSION, cluster: this.cluster.id, version, layers, kernel, initramfs } as const
    const chunkedFiles = files.map((f) => (layers.includes(f.name) ? { ...f, chunks: chunksOf.get(f.name)! } : f))
    return { manifest: signManifest({ ...body, files }, this.cluster.keyring), chunked: signManifest({ ...body, files: chunkedFiles }, this.cluster.keyring) }
  }

  /** The file's sha256 and chunk hashes, from the cache when size and mtime still match. */
  private async hashOf(version: string, name: string, path: string, size: number, mtimeMs: number): Promise<{ sha256: string; chunks: LayerChunks }> {
    const key = keys.hash(version, name)
    const cached = await this.state.get(key, HashEntry)
    if (cached && cached.size === size && cached.mtimeMs === mtimeMs && cached.chunks?.bytes === LAYER_CHUNK_BYTES) return { sha256: cached.sha256, chunks: cached.chunks }
    const { sha256, chunks } = await hashFileChunks(path)
    await this.state.put(key, { size, mtimeMs, sha256, chunks } satisfies HashEntry)
    return { sha256, chunks }
  }
}

function defaultLayers(names: string[]): string[] {
  const squash = names.filter((n) => n.endsWith('.squashfs'))
  const rank = (n: string) => {
    const i = LAYER_ORDER.indexOf(n.replace(/\.squashfs$/, '').replace(/[-_.].*$/, ''))
    return i < 0 ? LAYER_ORDER.length : i
  }
  return squash
    .filter((n) => !n.startsWith('controller'))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
}

/** sha256 of a whole file and of each LAYER_CHUNK_BYTES chunk, in one read. */
export function hashFileChunks(path: string): Promise<{ sha256: string; chunks: LayerChunks }> {
  return new Promise((resolve, reject) => {
    const h = new ChunkHasher(LAYER_CHUNK_BYTES)
    createReadStream(path, { highWaterMark: 1024 * 1024 })
      .on('data', (c) => h.update(c as Buffer))
      .on('error', reject)
      .on('end', () => resolve(h.digest()))
  })
}

export { sha256File }
