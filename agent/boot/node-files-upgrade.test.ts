import { describe, expect, it } from 'vitest'
import { ShoalError } from '../protocol/errors.js'
import { resolveAgentConfig } from '../config.js'
import { agentConfigFor, type NodeFilesInput } from './node-files.js'
import { parseUpgradeParam } from '../protocol/kernel-params/index.js'

const coordinatorKey = 'c'.repeat(64)
const input = (extra: Partial<NodeFilesInput> = {}): NodeFilesInput => ({
  enrolled: {
    cluster: 'lab', id: 'node-1', bootstrap: ['10.0.2.2:49737'], image: 'v1',
    roster: { members: [{ id: 'coordinator', key: coordinatorKey }, { id: 'node-1', key: 'a'.repeat(64) }] },
  } as never,
  seedHex: '0'.repeat(64), coordinator: 'http://10.0.2.2:8080', address: '10.0.2.101', apiPort: 7400, domain: 'default', layers: [],
  ...extra,
})

describe('a netbooted worker takes part in upgrade waves', () => {
  it('by default: waves signed by the roster’s coordinator, assignments at its URL, a real reboot; gates without credentials fail closed', () => {
    const file = agentConfigFor(input())
    expect(file.upgrade).toEqual({ coordinatorKey, coordinatorUrl: 'http://10.0.2.2:8080', host: 'node-1', rebooter: 'reboot' })
    const cfg = resolveAgentConfig(file)
    expect(cfg.upgrade?.skip).toEqual([])
    expect(cfg.upgrade?.drainPolicy).toBe('halt')
  })
  it('uses the Ceph and Kubernetes credentials the layers carry', () => {
    const file = agentConfigFor(input({ found: { cephConf: true, kubeconfig: true } }))
    expect(file.upgrade).toMatchObject({ cephConf: '/etc/ceph/ceph.conf', kubeconfig: '/etc/kubernetes/kubelet.conf' })
  })
  it('shoal.upgrade=skip:… names sources absent on purpose; other fields pass through validated', () => {
    const p = parseUpgradeParam('quiet shoal.upgrade=skip:ceph+kube+kubelet,drainPolicy:force,verifyTimeoutMs:600000 shoal.image=v1')
    expect(p).toEqual({ off: false, fields: { skip: ['ceph', 'kube', 'kubelet'], drainPolicy: 'force', verifyTimeoutMs: 600000 } })
    const cfg = resolveAgentConfig(agentConfigFor(input({ upgrade: p! })))
    expect(cfg.upgrade).toMatchObject({ skip: ['ceph', 'kube', 'kubelet'], drainPolicy: 'force', verifyTimeoutMs: 600000, coordinatorKey })
  })
  it('shoal.upgrade=off, or a roster without the coordinator: no part in waves', () => {
    expect(agentConfigFor(input({ upgrade: parseUpgradeParam('shoal.upgrade=off')! })).upgrade).toBeUndefined()
    expect(agentConfigFor(input({ enrolled: { cluster: 'lab', id: 'node-1', bootstrap: ['10.0.2.2:49737'], image: 'v1', roster: { members: [] } } as never })).upgrade).toBeUndefined()
    expect(parseUpgradeParam('console=ttyS0')).toBeUndefined()
  })
  it('refuses malformed pairs, unknown values and boot-owned fields with one clear line', () => {
    expect(() => parseUpgradeParam('shoal.upgrade=skip=ceph')).toThrow(/not key:value/)
    expect(() => parseUpgradeParam('shoal.upgrade=skip:ceph+disk')).toThrow(ShoalError)
    expect(() => parseUpgradeParam('shoal.upgrade=drainPolicy:maybe')).toThrow(/drainPolicy/)
    expect(() => parseUpgradeParam('shoal.upgrade=coordinatorUrl:evil')).toThrow(/set by the boot agent/)
    expect(() => parseUpgradeParam('shoal.upgrade=gateIntervalMs:-1')).toThrow(ShoalError)
  })
})
