/**
 * The coordinator's state against a failing disk: bytes flipped in the real LevelDB files
 * of a stopped coordinator (a node's key, a token, the write-ahead log, the MANIFEST) are
 * an error naming the entry, never a start that publishes them or forgets them; the data
 * dir is owner-only; `shoal coordinator check` finds every damaged entry offline; a backup
 * taken while running restores onto a fresh controller where a worker (the real boot
 * agent) boots again with its id.
 */
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { runBoot } from '../agent/boot/boot-sequence.js'
import { HttpCoordinator } from '../agent/boot/coordinator-client.js'
import { fakeBoot } from '../agent/boot/test-fixtures.js'
import { runState } from '../cli/commands/coordinator-state.js'
import { Coordinator } from '../coordinator/coordinator.js'
import { mergeConfig } from '../coordinator/coordinator-config.js'
import { EnrollResponse } from '../agent/protocol/enroll/index.js'
import { ClusterMeta, NodeEntry, StateStore, keys } from '../coordinator/state-store.js'
import { postJson, startTestCoordinator, testMachine, tokenFromScript, type TestCoordinator } from '../coordinator/testing.js'

let h: TestCoordinator | undefined
const extra: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const f of extra.splice(0)) await f()
  await h?.close()
  h = undefined
})

async function enrollMachine(n: number): Promise<EnrollResponse> {
  const m = testMachine(n)
  const script = await (await fetch(`${h!.url}/boot/ipxe?mac=${m.mac}`)).text()
  const r = await postJson(`${h!.url}/v1/enroll`, m.request(tokenFromScript(script)))
  expect(r.status).toBe(200)
  return EnrollResponse.parse(r.json)
}

/** Stops the coordinator, then opens and closes the data dir once so LevelDB moves its log into a table file. */
async function stopAndCompact(): Promise<void> {
  await h!.coordinator.close()
  const s = await StateStore.open(h!.dataDir)
  await s.close()
}

/** Flips one byte at the first place `find` matches in the data dir's files with `ext`; returns the file. */
async function flip(dir: string, ext: string, find: (buf: Buffer) => number): Promise<string> {
  for (const name of (await readdir(dir)).filter((n) => n.endsWith(ext)).sort()) {
    const buf = await readFile(join(dir, name))
    const at = find(buf)
    if (at < 0) continue
    buf[at] = buf[at] === 0x61 ? 0x62 : buf[at] === 0x31 ? 0x32 : buf[at]! ^ 0x01
    await writeFile(join(dir, name), buf)
    return name
  }
  throw new Error(`nothing to flip in ${dir}/*${ext}`)
}

const io = () => {
  const out: string[] = []
  return { out, io: { out: (l: string) => void out.push(l), err: (l: string) => void out.push(l) } }
}

describe('a flipped byte', () => {
  it("in a node's key inside an .ldb file: the start fails naming node!ID, nothing is published; check lists it", async () => {
    h = await startTestCoordinator()
    const a = await enrollMachine(1)
    const b = await enrollMachine(2)
    const key = h.coordinator.state.nodes.get(a.id)!.key
    await stopAndCompact()
    // The table is snappy-compressed block by block: within a block the key's first
    // occurrence is a literal and later copies of it (the certificate's, the audit entry's)
    // refer back to it, but an entry in another block carries its own literal. So flip the
    // same byte of every literal copy: the key is then damaged in every entry that carries
    // it, as a bad sector under each block would (flipping only the first copy left the node
    // entry intact whenever an audit entry in an earlier block held the first literal).
    let flipped = 0
    for (;;) {
      try {
        await flip(h.dataDir, '.ldb', (buf) => {
          const at = buf.indexOf(key)
          return at < 0 ? -1 : at + 10
        })
        flipped++
      } catch {
        break
      }
    }
    expect(flipped).toBeGreaterThan(0)
    await expect(h.restart()).rejects.toThrow(new RegExp(`state entry node!${a.id} is damaged: it fails authentication`))
    const c = io()
    expect(await runState('check', ['--data-dir', h.dataDir], c.io)).toBe(1)
    const out = c.out.join('\n')
    expect(out).toMatch(new RegExp(`damaged: node!${a.id}: .*fails authentication`))
    expect(out).not.toContain(`damaged: node!${b.id}`)
  })

  it('in a join token: the start fails naming token!HASH', async () => {
    h = await startTestCoordinator()
    await (await fetch(`${h.url}/boot/ipxe?mac=52:54:00:00:50:01`)).text()
    await stopAndCompact()
    // Inside the token's value: the first run of 20 hex characters after its 64-character key (its MAC).
    await flip(h.dataDir, '.ldb', (buf) => {
      const entry = buf.indexOf('token!')
      if (entry < 0) return -1
      const hex = /^[0-9a-f]{20}$/
      for (let i = entry + 6 + 64 + 8; i < buf.length - 20; i++) if (hex.test(buf.subarray(i, i + 20).toString('latin1'))) return i + 5
      return -1
    })
    await expect(h.restart()).rejects.toThrow(/state entry token![0-9a-f]{64} is damaged/)
  })

  it('a node entry that disagrees with its own certificate (two copies of its key) is refused by name, even when sealed', async () => {
    h = await startTestCoordinator()
    const a = await enrollMachine(1)
    await h.coordinator.close()
    // Written with the integrity key (as a bug or an insider with the seed could): only the cross-check catches it.
    const s = await StateStore.open(h.dataDir)
    s.useKey((await s.readCluster(ClusterMeta))!.seedHex)
    const node = (await s.get(keys.node(a.id), NodeEntry))!
    await s.put(keys.node(a.id), { ...node, key: testMachine(9).keyring.publicKey })
    await s.close()
    await expect(h.restart()).rejects.toThrow(new RegExp(`node!${a.id} is damaged: its key or id does not match its certificate`))
  })

  it("in LevelDB's write-ahead log: the coordinator never starts as if the entries after it were absent", async () => {
    h = await startTestCoordinator()
    for (let n = 1; n <= 4; n++) await enrollMachine(n)
    await h.coordinator.close()
    // The log holds everything since the last open; damage it early so what follows is dropped.
    await flip(h.dataDir, '.log', (buf) => (buf.length > 400 ? 200 : -1))
    const err = await h.restart().then(
      () => undefined,
      (e: Error) => e,
    )
    expect(err?.message).toMatch(/lost entries|damaged/)
    expect(err?.message).toMatch(/restore/)
  })

  it('in the MANIFEST: "damaged", not "another coordinator is running"', async () => {
    h = await startTestCoordinator()
    await enrollMachine(1)
    await h.coordinator.close()
    const manifest = (await readdir(h.dataDir)).find((n) => n.startsWith('MANIFEST-'))!
    const buf = await readFile(join(h.dataDir, manifest))
    buf.fill(0x5a, 0, Math.min(buf.length, 64))
    await writeFile(join(h.dataDir, manifest), buf)
    const err = await h.restart().then(
      () => undefined,
      (e: Error) => e,
    )
    expect(err?.message).toMatch(/damaged/)
    expect(err?.message).not.toMatch(/another coordinator/)
  })

  it('a data dir really in use says so', async () => {
    h = await startTestCoordinator()
    await expect(StateStore.open(h.dataDir)).rejects.toThrow(/another coordinator .* is using this data dir/)
  })
})

describe('file modes', () => {
  it('the data dir is 0700 and every file in it 0600 (it holds the cluster seed)', async () => {
    h = await startTestCoordinator()
    await enrollMachine(1)
    await h.coordinator.close()
    expect((await stat(h.dataDir)).mode & 0o777).toBe(0o700)
    const files = await readdir(h.dataDir)
    expect(files).toContain('state-seal.json')
    for (const f of files) expect({ f, mode: (await stat(join(h.dataDir, f))).mode & 0o777 }).toEqual({ f, mode: 0o600 })
  })
})

describe('backup and restore', () => {
  /** The real boot agent (agent/boot runBoot + HttpCoordinator) against `url`, as machine `n` with a fresh key. */
  async function boot(url: string, layerRoot: string, n: number, seedByte: number) {
    const m = testMachine(n)
    const script = await (await fetch(`${url}/boot/ipxe?mac=${m.mac}`)).text()
    const kernelLine = script.split('\n').find((l) => l.startsWith('kernel '))!
    const f = fakeBoot({ retryJitter: 0, maxAttempts: 3, layerDir: join(layerRoot, `layers-${n}-${seedByte}`), stackDir: join(layerRoot, 'stack') })
    f.ports.readCmdline = async () => kernelLine.slice(kernelLine.indexOf(' ', 'kernel '.length) + 1)
    const base = await f.ports.identify()
    f.ports.identify = async () => ({ ...base, fingerprint: { id: `node-${n}`, comps: m.comps }, inventory: { cpuCores: 2 } })
    f.ports.newSeed = () => new Uint8Array(32).fill(seedByte)
    f.ports.coordinator = (u) => new HttpCoordinator(u, 10_000)
    f.ports.mkdirp = async (dir) => void (await mkdir(dir, { recursive: true }))
    return runBoot(f.ports, f.cfg, '/new_root')
  }

  it('a backup taken while running restores onto a fresh controller: nodes keep ids and keys, a worker boots again', async () => {
    h = await startTestCoordinator()
    const first = await boot(h.url, h.dir, 3, 31)
    await enrollMachine(4)
    const before = h.coordinator.state
    const roster = before.roster()
    const file = join(h.dir, 'backup.jsonl')
    const b = io()
    expect(await runState('backup', [file, '--url', h.url, '--admin-token', h.adminToken], b.io)).toBe(0)
    expect(b.out[0]).toMatch(/backup of cluster .*entries written to/)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    await h.coordinator.close()

    // A fresh controller: an empty data dir, the same images.
    const dataDir = join(h.dir, 'restored')
    const r = io()
    expect(await runState('restore', [file, '--data-dir', dataDir], r.io)).toBe(0)
    expect(r.out[0]).toMatch(/restored cluster .* 2 node\(s\)/)
    const again = io()
    expect(await runState('restore', [file, '--data-dir', dataDir], again.io).catch((e: Error) => e.message)).toMatch(/already holds a coordinator state/)
    const c = io()
    expect(await runState('check', ['--data-dir', dataDir], c.io)).toBe(0)

    const restored = new Coordinator(mergeConfig({ dataDir, imagesDir: h.imagesDir, httpPort: 0, dhtPort: -1, bootstrapAdvertise: ['127.0.0.1:49737'], adminToken: h.adminToken }), { clock: h.clock })
    extra.push(() => restored.close())
    await restored.start()
    expect(restored.state.publicKey).toBe(before.publicKey)
    expect(restored.state.roster().members).toEqual(roster.members)
    const next = await boot(restored.url, h.dir, 3, 32)
    expect(next).toMatchObject({ id: first.id, identity: 'known', cluster: first.cluster })
    expect(restored.state.rosterVersion).toBe(roster.version + 1)
  })

  it('a backup cut short or edited is refused before anything is written', async () => {
    h = await startTestCoordinator()
    await enrollMachine(1)
    const file = join(h.dir, 'backup.jsonl')
    expect(await runState('backup', [file, '--url', h.url, '--admin-token', h.adminToken], io().io)).toBe(0)
    const text = await readFile(file, 'utf8')
    const lines = text.trimEnd().split('\n')
    await writeFile(join(h.dir, 'cut.jsonl'), lines.slice(0, -2).join('\n') + '\n')
    expect(text).toContain('cpuCores\\":2')
    await writeFile(join(h.dir, 'edited.jsonl'), text.replace('cpuCores\\":2', 'cpuCores\\":3'))
    for (const name of ['cut.jsonl', 'edited.jsonl']) {
      const dataDir = join(h.dir, `restore-${name}`)
      await expect(runState('restore', [join(h.dir, name), '--data-dir', dataDir], io().io)).rejects.toThrow(/not a usable coordinator backup/)
      await expect(stat(dataDir)).rejects.toThrow()
    }
    await rm(file)
  })
})
