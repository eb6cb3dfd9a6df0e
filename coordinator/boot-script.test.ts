import { describe, expect, it } from 'vitest'
import { layersParam, peersParam } from './boot-script.js'
import { formatBootParams, parseKernelParams, parsePeersParam } from '../agent/protocol/kernel-params/index.js'

const boot = { coordinator: 'http://10.0.2.2:8080', token: 'a'.repeat(64), mac: '52:54:00:00:00:01', bootstrap: ['10.0.2.2:49737'], image: 'v1', cluster: 'lab', clusterKey: 'b'.repeat(64) }

const members = [
  { id: 'n3', alive: true, api: '10.0.0.13:7400' },
  { id: 'n1', alive: true, api: '10.0.0.11:7400' },
  { id: 'n2', alive: false, api: '10.0.0.12:7400' },
  { id: 'coordinator', alive: true },
  { id: 'n4', alive: true, api: '10.0.0.14:7400' },
  { id: 'n5', alive: true, api: '10.0.0.15:7400' },
]

describe('shoal.peers= in the boot script: agents a booting worker can ask for its old id', () => {
  it('names up to three alive agents with an API, never the machine itself, and the boot agent reads them back', () => {
    const p = peersParam(members, { id: 'n4', mac: '52:54:00:00:00:01' }, 'console=ttyS0')
    const named = p.replace(/^shoal\.peers=/, '').split(',')
    expect(named).toHaveLength(3)
    expect(new Set(named).size).toBe(3)
    for (const a of named) expect(['10.0.0.11:7400', '10.0.0.13:7400', '10.0.0.15:7400']).toContain(a)
    expect(parsePeersParam(`quiet ${p}`).peers).toEqual(named)
  })
  it('spreads a rack over the agents by MAC, deterministically', () => {
    const firsts = new Set(Array.from({ length: 12 }, (_, i) => peersParam(members, { mac: `52:54:00:00:00:${String(i).padStart(2, '0')}` }, '').split(/[=,]/)[1]))
    expect(firsts.size).toBeGreaterThan(1)
    expect(peersParam(members, { mac: '52:54:00:00:00:07' }, '')).toBe(peersParam(members, { mac: '52:54:00:00:00:07' }, ''))
  })
  it('is empty with no agent known, or when the operator named the peers in kernelArgs', () => {
    expect(peersParam([], { mac: '52:54:00:00:00:01' }, '')).toBe('')
    expect(peersParam([{ id: 'coordinator', alive: true }], { mac: '52:54:00:00:00:01' }, '')).toBe('')
    expect(peersParam(members, { mac: '52:54:00:00:00:01' }, 'quiet shoal.peers=10.9.9.9:7400')).toBe('')
  })
})

describe('shoal.layers= in the boot script: chunk sharing on by default', () => {
  it('asks for chunks unless the operator set shoal.layers= in kernelArgs (http turns it off), and the boot agent reads it so', () => {
    expect(layersParam('console=ttyS0')).toBe('shoal.layers=chunks')
    expect(parseKernelParams(`${formatBootParams(boot)} ${layersParam('')}`).chunkedLayers).toBe(true)
    expect(layersParam('console=ttyS0 shoal.layers=http')).toBe('')
    expect(parseKernelParams(`${formatBootParams(boot)} shoal.layers=http ${layersParam('shoal.layers=http')}`).chunkedLayers).toBe(false)
    expect(layersParam('shoal.layers=chunks,upload=5')).toBe('')
  })
})
