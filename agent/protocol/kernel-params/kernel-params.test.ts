import { describe, expect, it } from 'vitest'
import { ShoalError } from '../errors.js'
import { formatKernelParams, hasKernelParam, KERNEL_PARAMS, parseKernelParams, type KernelParamsInput } from './index.js'

const boot = {
  coordinator: 'http://10.0.2.2:8080',
  token: 'ab'.repeat(32),
  mac: '52:54:00:00:00:01',
  bootstrap: ['10.0.2.2:49737', '10.0.2.3:49737'],
  image: 'v1.2',
  cluster: 'lab',
  clusterKey: 'cd'.repeat(32),
}

describe('the shoal.* kernel parameters, written and read in one place', () => {
  it('reads back everything the boot script writes, among other kernel words', () => {
    const input: KernelParamsInput = {
      boot,
      mesh: { mesh: { probeIntervalMs: 2000, probeTimeoutMs: 5000 }, silentLinkMs: 60000 },
      peers: ['10.0.2.101:7400', 'agents.lab:7400'],
      upgrade: { off: false, fields: { skip: ['ceph', 'kube'], drainPolicy: 'force', verifyTimeoutMs: 600000 } },
      chunkedLayers: true,
      layerUploadBytesPerSec: 50 * 1048576,
      diag: true,
    }
    const line = `initrd=initramfs.img console=ttyS0 ${formatKernelParams(input)} panic=-1`
    expect(parseKernelParams(line)).toEqual({ ...input, peers: { peers: input.peers, skipped: [] } })
  })

  it('writes every word it names, and nothing else', () => {
    const words = formatKernelParams({ boot, mesh: { mesh: { probeIntervalMs: 1000 } }, peers: ['h:1'], upgrade: { off: true }, domain: 'rack-3', chunkedLayers: true, diag: true }).split(' ')
    expect(words.map((w) => w.slice(0, w.indexOf('='))).sort()).toEqual(Object.values(KERNEL_PARAMS).sort())
  })

  it('leaves out the optional words when not given, and reads their absence back', () => {
    const line = formatKernelParams({ boot })
    expect(line).not.toMatch(/shoal\.(mesh|peers|upgrade|layers|diag)=/)
    expect(parseKernelParams(line)).toEqual({ boot, peers: { peers: [], skipped: [] }, chunkedLayers: false, diag: false })
  })

  it('says what is wrong: no shoal.* at all, a missing enrollment word, a malformed mesh or upgrade word', () => {
    expect(() => parseKernelParams('console=ttyS0 quiet')).toThrow(/no shoal\.\* parameters on the kernel command line/)
    const noImage = formatKernelParams({ boot }).replace(/shoal\.image=\S+/, '')
    expect(() => parseKernelParams(noImage)).toThrow(/shoal\.image: .*\(the coordinator's boot script sets these\)/)
    expect(() => parseKernelParams(`${formatKernelParams({ boot })} shoal.mesh=probeIntervalMs=1`)).toThrow(ShoalError)
    expect(() => parseKernelParams(`${formatKernelParams({ boot })} shoal.upgrade=host:x`)).toThrow(/set by the boot agent/)
    expect(parseKernelParams(`${formatKernelParams({ boot })} shoal.peers=nope`).peers).toEqual({ peers: [], skipped: ['"nope" is not HOST:PORT'] })
  })

  it('tells whether an operator already set a word (whole words only)', () => {
    expect(hasKernelParam('quiet shoal.peers=10.0.0.1:7400', 'peers')).toBe(true)
    expect(hasKernelParam('quiet xshoal.peers=10.0.0.1:7400 shoal.peersx=1', 'peers')).toBe(false)
    expect(hasKernelParam('  shoal.mesh=probeIntervalMs:1000', 'mesh')).toBe(true)
  })
})
