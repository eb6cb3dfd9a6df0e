import { describe, expect, it } from 'vitest'
import { configFromEnv, defaultCoordinatorConfig, mergeConfig, parseConfigFile } from './coordinator-config.js'

describe('coordinator config', () => {
  it('defaults < file < env < flags', () => {
    const file = parseConfigFile(JSON.stringify({ httpPort: 9000, unknownMac: 'refuse', kernelArgs: 'quiet' }), 'c.json')
    const env = configFromEnv({ SHOAL_COORDINATOR_HTTP_PORT: '9001', SHOAL_COORDINATOR_JOIN_TOKEN_TTL_MS: '1000', SHOAL_COORDINATOR_AUDIT_IMAGES: 'false' })
    const c = mergeConfig(file, env, { httpPort: 9002 })
    expect(c.httpPort).toBe(9002)
    expect(c.joinTokenTtlMs).toBe(1000)
    expect(c.unknownMac).toBe('refuse')
    expect(c.auditImages).toBe(false)
    expect(c.kernelArgs).toBe('quiet')
    expect(c.maxBodyBytes).toBe(defaultCoordinatorConfig.maxBodyBytes)
  })
  it('unknown keys and bad values are errors that name the field', () => {
    expect(() => parseConfigFile('{"httpPrt": 1}', 'c.json')).toThrow(/httpPrt|Unrecognized/)
    expect(() => parseConfigFile('{nope', 'c.json')).toThrow(/not valid JSON/)
    expect(() => mergeConfig({ unknownMac: 'maybe' as never })).toThrow(/unknownMac/)
    expect(() => configFromEnv({ SHOAL_COORDINATOR_HTTP_PORT: 'eighty' })).toThrow(/SHOAL_COORDINATOR_HTTP_PORT/)
    expect(() => mergeConfig({ publicUrl: 'http://x/with/path' })).toThrow(/publicUrl/)
  })
  it('meshTiming: a name or key:number pairs from a file, env or flag; a bad one names the field', () => {
    expect(mergeConfig({}).meshTiming).toBe('lan')
    expect(mergeConfig(parseConfigFile('{"meshTiming":"emulated"}', 'c.json')).meshTiming).toBe('emulated')
    expect(mergeConfig(configFromEnv({ SHOAL_COORDINATOR_MESH_TIMING: 'probeIntervalMs:500,probeTimeoutMs:1000' })).meshTiming).toBe('probeIntervalMs:500,probeTimeoutMs:1000')
    expect(() => mergeConfig({ meshTiming: 'slow' })).toThrow(/meshTiming.*lan, emulated/)
    expect(() => mergeConfig({ meshTiming: 'probeTimeoutMS:10' })).toThrow(/meshTiming/)
  })
})
