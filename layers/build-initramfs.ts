/**
 * Builds the test initramfs and prints its path:  npx tsx layers/build-initramfs.ts
 * (also run by `npm run layers`, which ships it as images/{version}/initramfs.img).
 */
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildInitramfs } from './initramfs.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const built = await buildInitramfs({ repoRoot, cacheDir: resolve(repoRoot, '.cache'), modulesDir: resolve(repoRoot, '.cache/kernel/modules') })
console.log(`${built.path} ${(built.sizeBytes / 1048576).toFixed(1)} MiB ${built.reused ? '(cached) ' : ''}${built.buildMs} ms`)
