import { describe, expect, it } from 'vitest'
import { ShoalError } from '../protocol/errors.js'
import { formatMeshParam, parseMeshParam, parseMeshTiming } from '../protocol/kernel-params/index.js'
import { resolveAgentConfig } from '../config.js'
import { agentConfigFor } from './node-files.js'

describe('shoal.mesh= (mesh timing for slow machines)', () => {
  it('is absent unless given', () => {
    expect(parseMeshParam('console=ttyS0 shoal.image=v1')).toBeUndefined()
  })
  it('reads key:number pairs and lands in agent.json, where the agent config accepts them', () => {
    const mesh = parseMeshParam('quiet shoal.mesh=probeIntervalMs:1000,probeTimeoutMs:2000 shoal.image=v1')
    expect(mesh).toEqual({ mesh: { probeIntervalMs: 1000, probeTimeoutMs: 2000 } })
    const file = agentConfigFor({
      enrolled: { cluster: 'lab', id: 'node-1', bootstrap: ['10.0.2.2:49737'], image: 'v1' } as never,
      seedHex: '0'.repeat(64), coordinator: 'http://10.0.2.2:8080', address: '10.0.2.101', apiPort: 7400, domain: 'default', layers: [],
      inventory: { cpuModel: 'QEMU TCG CPU', cpuCores: 1 }, mesh: mesh!.mesh, silentLinkMs: 60000,
    })
    expect(file).toMatchObject({ mesh: { probeIntervalMs: 1000 }, inventory: { cpuCores: 1 }, silentLinkMs: 60000 })
    expect(parseMeshParam('shoal.mesh=silentLinkMs:60000,probeIntervalMs:1000')).toEqual({ mesh: { probeIntervalMs: 1000 }, silentLinkMs: 60000 })
  })
  it('refuses unknown fields and malformed pairs with a clear error', () => {
    expect(() => parseMeshParam('shoal.mesh=probeIntervalMS:1000')).toThrow(ShoalError)
    expect(() => parseMeshParam('shoal.mesh=probeIntervalMs:1000,probeTimeoutMs:2000')).not.toThrow()
    expect(() => parseMeshParam('shoal.mesh=probeIntervalMs=1000')).toThrow(/not key:number/)
    expect(() => parseMeshParam('shoal.mesh=probeIntervalMs:-5')).toThrow(ShoalError)
  })
})

describe('named mesh timings (the coordinator\'s --mesh-timing)', () => {
  it('emulated -> shoal.mesh= words that parse back to the same timing; lan -> nothing', () => {
    const t = parseMeshTiming('emulated')
    expect(t.mesh).toMatchObject({ probeIntervalMs: 2000, probeTimeoutMs: 5000 })
    expect(parseMeshParam(`quiet ${formatMeshParam(t)} shoal.image=v1`)).toEqual(t)
    expect(formatMeshParam(parseMeshTiming('lan'))).toBe('')
    expect(() => parseMeshTiming('turbo')).toThrow(ShoalError)
  })
})

describe('agent.json from the boot agent', () => {
  it('carries the component digest, so the running agent publishes it in its record', () => {
    const comps = ['disk:0123456789abcdef01234567', 'nic:89abcdef0123456789abcdef']
    const file = agentConfigFor({
      enrolled: { cluster: 'lab', id: 'node-1', bootstrap: ['10.0.2.2:49737'], image: 'v1' } as never,
      seedHex: '0'.repeat(64), coordinator: 'http://10.0.2.2:8080', address: '10.0.2.101', apiPort: 7400, domain: 'default', layers: [], comps,
    })
    expect(file).toMatchObject({ comps })
  })

  it('after a chunked boot, tells the agent where the kept manifest and layers are and whose key signs them (the agent config accepts it)', () => {
    const layerChunks = { manifestFile: '/run/shoal/layers.manifest.json', layerDir: '/run/shoal/layers', uploadBytesPerSec: 8 * 1048576 }
    const file = agentConfigFor({
      enrolled: { cluster: 'lab', id: 'node-1', bootstrap: ['10.0.2.2:49737'], image: 'v1', clusterKey: 'c'.repeat(64) } as never,
      seedHex: '0'.repeat(64), coordinator: 'http://10.0.2.2:8080', address: '10.0.2.101', apiPort: 7400, domain: 'default', layers: [], layerChunks,
    })
    expect(resolveAgentConfig(file).layerChunks).toEqual({ ...layerChunks, clusterKey: 'c'.repeat(64) })
  })
})
