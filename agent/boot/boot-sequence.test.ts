import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ShoalError } from '../protocol/errors.js'
import { runBoot } from './boot-sequence.js'
import { cmdline, fakeBoot } from './test-fixtures.js'

describe('runBoot', () => {
  it('enrolls, fetches and verifies the layers, mounts them and hands the run-mode agent its files', async () => {
    const f = fakeBoot()
    const r = await runBoot(f.ports, f.cfg, '/new_root')
    expect(r).toMatchObject({ id: 'node-7f3a', identity: 'new', cluster: 'lab', image: 'v1' })
    expect(f.mounter.ops.at(-1)).toMatch(/^overlay .* \/new_root$/)
    expect(f.nodeFiles[0]).toMatchObject({ address: '10.0.2.101', coordinator: 'http://10.0.2.2:8080', apiPort: 7400 })
    expect(f.nodeFiles[0]!.enrolled.bootstrap).toEqual(['10.0.2.2:49737'])
    expect(f.sleeps).toEqual([])
  })

  it('hands the agent the newest roster, so machines that enrolled after this one are admitted', async () => {
    const f = fakeBoot()
    f.coordinator.rosterMembers = [
      { id: 'node-7f3a', key: 'a'.repeat(64) },
      { id: 'node-later', key: 'b'.repeat(64) },
    ]
    await runBoot(f.ports, f.cfg, '/new_root')
    expect(f.nodeFiles[0]!.enrolled.roster.members.map((m) => m.id)).toEqual(['node-7f3a', 'node-later'])
  })

  it('retries with growing, capped delays while the coordinator is down (a restart mid-boot) and still comes up', async () => {
    const f = fakeBoot({ retryInitialMs: 1000, retryMaxMs: 4000, retryJitter: 0 })
    f.coordinator.downCalls = 5
    const r = await runBoot(f.ports, f.cfg, '/new_root')
    expect(r.id).toBe('node-7f3a')
    expect(f.sleeps).toEqual([1000, 2000, 4000, 4000, 4000])
    expect(f.said.filter((l) => /enrolling with http:\/\/10.0.2.2:8080 failed: cannot reach .*ECONNREFUSED; retrying in/.test(l))).toHaveLength(5)
  })

  it('goes back to backoff when the coordinator dies between enrollment and the layer downloads', async () => {
    const f = fakeBoot({ retryJitter: 0 })
    const download = f.coordinator.download.bind(f.coordinator)
    let failures = 2
    f.coordinator.download = async (...a) => {
      if (failures-- > 0) throw new ShoalError('unreachable', 'download broke off after 512 bytes: ECONNRESET')
      return download(...a)
    }
    await runBoot(f.ports, f.cfg, '/new_root')
    expect(f.sleeps).toEqual([1000, 2000])
    expect(f.said.some((l) => /fetching image v1 failed: download broke off/.test(l))).toBe(true)
  })

  it('never mounts a tampered layer: says why, deletes it, retries with backoff until the served layer is good', async () => {
    const f = fakeBoot({ retryJitter: 0 })
    f.coordinator.served.set('worker.squashfs', new TextEncoder().encode('worker layeR'))
    let attempts = 0
    const sleep = f.ports.sleep
    f.ports.sleep = async (ms) => {
      expect(f.mounter.ops).toEqual([]) // nothing mounted while the layer is bad
      if (++attempts === 3) f.coordinator.served.set('worker.squashfs', f.coordinator.layers.get('worker.squashfs')!)
      return sleep(ms)
    }
    await runBoot(f.ports, f.cfg, '/new_root')
    expect(f.sleeps).toEqual([1000, 2000, 4000])
    expect(f.removed.filter((p) => p.endsWith('worker.squashfs'))).toHaveLength(3)
    expect(f.said.filter((l) => /layer worker.squashfs of image v1 does not match the signed manifest .* not mounting it; retrying in/.test(l))).toHaveLength(3)
    expect(f.mounter.ops.filter((o) => o.startsWith('squashfs'))).toHaveLength(2)
  })

  it('gives up after maxAttempts when told to, without mounting anything', async () => {
    const f = fakeBoot({ maxAttempts: 3, retryJitter: 0 })
    f.coordinator.served.set('base.squashfs', new Uint8Array(0))
    await expect(runBoot(f.ports, f.cfg, '/new_root')).rejects.toThrow(/does not match the signed manifest/)
    expect(f.mounter.ops).toEqual([])
    expect(f.said.at(-1)).toMatch(/giving up after 3 attempts/)
  })

  it('asks for a fresh join token when the boot script token is spent, bound to the boot MAC', async () => {
    const f = fakeBoot()
    f.coordinator.validTokens.clear()
    const r = await runBoot(f.ports, f.cfg, '/new_root')
    expect(r.id).toBe('node-7f3a')
    expect(f.coordinator.calls.slice(0, 3)).toEqual(['enroll', 'join-token', 'enroll'])
    expect(f.said.some((l) => l.includes('join token refused (token-used)'))).toBe(true)
  })

  it('waits for approval as long as the coordinator says, re-sending the same request', async () => {
    const f = fakeBoot()
    f.coordinator.pendingAnswers = 2
    await runBoot(f.ports, f.cfg, '/new_root')
    expect(f.sleeps).toEqual([3000, 3000])
    expect(f.said.filter((l) => l.startsWith('waiting for approval'))).toHaveLength(2)
  })

  it('refuses an enrollment answer from another cluster key than the boot script pinned', async () => {
    const f = fakeBoot({ maxAttempts: 2, retryJitter: 0 })
    const enroll = f.coordinator.enroll.bind(f.coordinator)
    f.coordinator.enroll = async (req) => ({ ...(await enroll(req)), clusterKey: 'f'.repeat(64) }) as never
    await expect(runBoot(f.ports, f.cfg, '/new_root')).rejects.toThrow(/pinned lab/)
    expect(f.mounter.ops).toEqual([])
  })

  it('refuses the layers of an image other than the shoal.image it booted, says so once, and fetches and mounts nothing', async () => {
    const f = fakeBoot()
    f.coordinator.enrollImage = 'v2'
    await expect(runBoot(f.ports, f.cfg, '/new_root')).rejects.toMatchObject({ code: 'image-mismatch' })
    expect(f.said.filter((l) => l.includes('refusing'))).toEqual([
      'refusing the layers of image v2: this machine booted the kernel and initramfs of shoal.image=v1; reboot it to boot v2 whole',
    ])
    expect(f.coordinator.calls.filter((c) => c === 'manifest' || c.startsWith('download'))).toEqual([])
    expect(f.mounter.ops).toEqual([])
    expect(f.nodeFiles).toEqual([])
    expect(f.sleeps).toEqual([]) // not retried: the answer would not change
  })

  it('publishes the failure domain shoal.domain= names (the last one: a coordinator label after kernelArgs); none: the default', async () => {
    const plain = fakeBoot()
    await runBoot(plain.ports, plain.cfg, '/new_root')
    expect(plain.nodeFiles[0]!.domain).toBe('default')
    const f = fakeBoot()
    f.ports.readCmdline = async () => `shoal.domain=site-wide ${cmdline} shoal.domain=rack-3`
    await runBoot(f.ports, f.cfg, '/new_root')
    expect(f.nodeFiles[0]!.domain).toBe('rack-3')
    const bad = fakeBoot({ maxAttempts: 1 })
    bad.ports.readCmdline = async () => `${cmdline} shoal.domain=rack/3`
    await expect(runBoot(bad.ports, bad.cfg, '/new_root')).rejects.toThrow(/shoal.domain: "rack\/3" is not a domain name/)
  })

  it('fetches layers chunk by chunk from peers only when shoal.layers=chunks asks; otherwise whole files from the coordinator', async () => {
    const asked: string[][] = []
    const plain = fakeBoot()
    plain.ports.chunkedLayers = async (input) => {
      asked.push(input.peers)
      return undefined
    }
    await runBoot(plain.ports, plain.cfg, '/new_root')
    expect(asked).toEqual([])
    expect(plain.coordinator.calls).toContain('manifest')
    const chunks = fakeBoot()
    chunks.ports.readCmdline = async () => `${cmdline} shoal.layers=chunks shoal.peers=10.0.2.101:7400`
    chunks.ports.chunkedLayers = async (input) => {
      asked.push(input.peers)
      return undefined // the coordinator's manifest has no chunks: whole files after all
    }
    await runBoot(chunks.ports, chunks.cfg, '/new_root')
    expect(asked).toEqual([['10.0.2.101:7400']])
    expect(chunks.mounter.ops.length).toBeGreaterThan(0)
  })

  it('after a chunked fetch, the run-mode agent is told to serve the chunks (kept manifest, layer dir, shoal.layers upload cap); not after whole files', async () => {
    const f = fakeBoot()
    f.ports.readCmdline = async () => `${cmdline} shoal.layers=chunks,upload=8`
    const kept: string[] = []
    f.ports.chunkedLayers = async (input) => {
      kept.push(input.manifestFile)
      const fetched = [...f.coordinator.served].map(([name, b]) => ({ name, path: `${input.layerDir}/${name}`, size: b.length, sha256: createHash('sha256').update(b).digest('hex') }))
      return { manifest: await f.coordinator.manifest('v1'), fetched }
    }
    await runBoot(f.ports, f.cfg, '/new_root')
    expect(kept).toEqual([f.cfg.layerManifestFile])
    expect(f.nodeFiles[0]!.layerChunks).toEqual({ manifestFile: f.cfg.layerManifestFile, layerDir: f.cfg.layerDir, uploadBytesPerSec: 8 * 1048576 })
    // The chunked path gave way to whole files (no chunks in the manifest): nothing to serve.
    const whole = fakeBoot()
    whole.ports.readCmdline = async () => `${cmdline} shoal.layers=chunks`
    whole.ports.chunkedLayers = async () => undefined
    await runBoot(whole.ports, whole.cfg, '/new_root')
    expect(whole.nodeFiles[0]!.layerChunks).toBeUndefined()
  })

  it('says clearly when the machine was not booted through the coordinator', async () => {
    const f = fakeBoot({ maxAttempts: 1 })
    f.ports.readCmdline = async () => 'console=ttyS0 quiet'
    await expect(runBoot(f.ports, f.cfg, '/new_root')).rejects.toThrow(/no shoal\.\* parameters on the kernel command line/)
  })
})
