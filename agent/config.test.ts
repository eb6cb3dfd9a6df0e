import { describe, expect, it } from 'vitest'
import { agentDefaults, resolveAgentConfig } from './config.js'

const file = {
  cluster: 'lab',
  nodeId: 'node-a',
  seedFile: '/var/lib/shoal/seed',
  rosterFile: '/etc/shoal/roster.json',
  bootstrap: ['10.0.0.1:49737'],
  apiPort: 7401,
}

describe('agent config', () => {
  it('merges defaults < file < env < flags', () => {
    const c = resolveAgentConfig(file, { SHOAL_API_PORT: '7402', SHOAL_IMAGE: 'v2', SHOAL_BOOTSTRAP: '10.0.0.2:1, 10.0.0.3:2' }, { 'api-port': '7403' })
    expect(c.apiPort).toBe(7403) // flag beats env beats file
    expect(c.image).toBe('v2') // env beats default
    expect(c.bootstrap).toEqual(['10.0.0.2:1', '10.0.0.3:2'])
    expect(c.apiHost).toBe(agentDefaults.apiHost)
    expect(c.nodeId).toBe('node-a')
  })

  it('rejects unknown keys, naming them', () => {
    expect(() => resolveAgentConfig({ ...file, bootstarp: ['x:1'] })).toThrow(/bootstarp|Unrecognized/i)
  })

  it('rejects bad values with the field and what is wrong', () => {
    expect(() => resolveAgentConfig({ ...file, bootstrap: [] })).toThrow(/bootstrap/)
    expect(() => resolveAgentConfig({ ...file, bootstrap: ['no-port'] })).toThrow(/host:port/)
    expect(() => resolveAgentConfig(file, { SHOAL_API_PORT: 'eighty' })).toThrow(/SHOAL_API_PORT must be a whole number/)
    expect(() => resolveAgentConfig({ ...file, nodeId: 'has space' })).toThrow(/nodeId/)
    expect(() => resolveAgentConfig({ ...file, mesh: { probeIntervalMs: -1 } })).toThrow(/mesh\.probeIntervalMs/)
    expect(() => resolveAgentConfig([1, 2])).toThrow(/one JSON object/)
  })

  it('needs a seed source', () => {
    const { seedFile: _, ...noSeed } = file
    expect(() => resolveAgentConfig(noSeed)).toThrow(/seedFile/)
  })
})
