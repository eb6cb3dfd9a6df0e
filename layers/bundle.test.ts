import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { NATIVE_PACKAGES, bundle, copyPackages } from './bundle.js'

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

  it('loads the natives it bundles directly, and keeps what it defers working (pino.transport, prom-client’s Pushgateway, msgpack without the addon)', async () => {
    const entryDir = mkdtempSync(join(repoRoot, '.cache', 'bundle-test-'))
    const entry = join(entryDir, 'entry.ts')
    writeFileSync(entry, [
      `import sodium from 'sodium-native'`,
      `import { pino } from 'pino'`,
      `import { pack, unpack } from 'msgpackr'`,
      `import * as prom from 'prom-client'`,
      `const loaded = (m: string) => process.moduleLoadList.includes('NativeModule ' + m)`,
      `const out = Buffer.alloc(sodium.crypto_generichash_BYTES)`,
      `sodium.crypto_generichash(out, Buffer.from('shoal'))`,
      `const early = { https: loaded('https'), zlib: loaded('zlib'), cluster: loaded('cluster'), assert: loaded('assert') }`,
      `const reg = new prom.Registry(); new prom.Counter({ name: 'c_total', help: 'h', registers: [reg] }).inc()`,
      `const metrics = await reg.metrics()`,
      `const late = { Pushgateway: typeof prom.Pushgateway, AggregatorRegistry: typeof prom.AggregatorRegistry, https: loaded('https') }`,
      `pino({ base: null, timestamp: false }).info({ hash: out.toString('hex').slice(0, 8), transport: typeof pino.transport, msgpack: unpack(pack({ a: 'é' })).a, early, late, counted: metrics.includes('c_total 1') }, 'ok')`,
    ].join('\n'))
    const out = join(dir, 'natives', 'entry.mjs')
    await bundle({ entry, outFile: out, external: NATIVE_PACKAGES })
    rmSync(entryDir, { recursive: true, force: true })
    // The addons come from a node_modules beside the bundle, as on a worker.
    await copyPackages(NATIVE_PACKAGES, join(repoRoot, 'node_modules'), join(dir, 'natives', 'node_modules'))
    // Without require-addon, only the direct load of prebuilds/linux-x64/sodium-native.node can work.
    rmSync(join(dir, 'natives', 'node_modules', 'require-addon'), { recursive: true, force: true })
    const printed = execFileSync(process.execPath, [out], { cwd: dirname(out), encoding: 'utf8' })
    expect(JSON.parse(printed)).toMatchObject({ msg: 'ok', transport: 'function', msgpack: 'é', hash: expect.stringMatching(/^[0-9a-f]{8}$/), counted: true })
    // Deferred: nothing loaded https, zlib, cluster or assert until asked; then each is there.
    expect(JSON.parse(printed)).toMatchObject({ early: { https: false, zlib: false, cluster: false, assert: false }, late: { Pushgateway: 'function', AggregatorRegistry: 'function', https: true } })
  }, 60_000)

  it('carries zod in English only: its messages as before, the other locales and z.fromJSONSchema left out, saying so', async () => {
    const entryDir = mkdtempSync(join(repoRoot, '.cache', 'bundle-test-'))
    const entry = join(entryDir, 'entry.ts')
    writeFileSync(entry, [
      `import { z } from 'zod'`,
      `const r = z.object({ port: z.number().int().max(65535) }).strict().safeParse({ port: 70000, extra: 1 })`,
      `let fromJson = ''`,
      `try { z.fromJSONSchema({ type: 'string' }) } catch (err) { fromJson = (err as Error).message }`,
      `console.log(JSON.stringify({ issues: r.error!.issues.map((i) => i.message), locales: Object.keys(z.locales), en: typeof z.locales.en, fromJson }))`,
    ].join('\n'))
    const out = join(dir, 'zod', 'entry.cjs')
    await bundle({ entry, outFile: out, format: 'cjs' })
    rmSync(entryDir, { recursive: true, force: true })
    const printed = JSON.parse(execFileSync(process.execPath, [out], { cwd: dirname(out), encoding: 'utf8' })) as Record<string, unknown>
    expect(printed.issues).toEqual(['Too big: expected number to be <=65535', 'Unrecognized key: "extra"'])
    expect(printed).toMatchObject({ locales: ['en'], en: 'function' })
    expect(printed.fromJson).toMatch(/z\.fromJSONSchema is left out of shoal's bundles/)
  }, 60_000)
})
