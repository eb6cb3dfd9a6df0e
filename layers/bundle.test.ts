import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { NATIVE_PACKAGES, bundle } from './bundle.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')

describe('a bundle runs where there is no node_modules (a worker’s root)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-bundle-'))
  mkdirSync(join(repoRoot, '.cache'), { recursive: true })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('carries the pure-JS packages the agent loads late (yaml for a kubeconfig, undici for HTTP)', async () => {
    // The entry lives in the checkout (packages resolve from there); the bundle runs from a bare directory.
    const entryDir = mkdtempSync(join(repoRoot, '.cache', 'bundle-test-'))
    const entry = join(entryDir, 'entry.ts')
    writeFileSync(entry, [
      `import { kubeconfigFromText } from ${JSON.stringify(join(repoRoot, 'agent/health/kube-config.ts'))}`,
      `const conn = kubeconfigFromText('apiVersion: v1\\nkind: Config\\nclusters:\\n- name: c\\n  cluster:\\n    server: http://10.0.0.1:6443\\nusers:\\n- name: u\\n  user: {}\\ncontexts:\\n- name: x\\n  context:\\n    cluster: c\\n    user: u\\ncurrent-context: x\\n', '/')`,
      `const { request } = await import('undici')`,
      `console.log(JSON.stringify({ server: conn.server, undici: typeof request }))`,
    ].join('\n'))
    const out = join(dir, 'out', 'entry.mjs')
    await bundle({ entry, outFile: out, external: NATIVE_PACKAGES })
    rmSync(entryDir, { recursive: true, force: true })
    const printed = execFileSync(process.execPath, [out], { cwd: dirname(out), encoding: 'utf8' })
    expect(JSON.parse(printed)).toEqual({ server: 'http://10.0.0.1:6443', undici: 'function' })
  })
})
