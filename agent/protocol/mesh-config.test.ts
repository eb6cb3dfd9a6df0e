import { describe, expect, it } from 'vitest'
import { lanPreset, MESH_TIMINGS, meshConfig, meshTimingPairs, type MeshTimingName } from './mesh-config.js'

describe('the table of named mesh timings', () => {
  it('every name merges onto lan into a valid config, and its key:value pairs carry exactly its overrides', () => {
    for (const name of Object.keys(MESH_TIMINGS) as MeshTimingName[]) {
      const t = MESH_TIMINGS[name]
      expect(meshConfig({}, name)).toEqual({ ...lanPreset, ...t.mesh })
      const pairs = meshTimingPairs(name)
      const parsed = Object.fromEntries(pairs ? pairs.split(',').map((p) => p.split(':')).map(([k, v]) => [k!, Number(v)]) : [])
      expect(parsed).toEqual({ ...t.mesh, ...('silentLinkMs' in t ? { silentLinkMs: t.silentLinkMs } : {}) })
    }
  })

  it('lan and sim are the production values; shared and emulated only slow things down', () => {
    expect(meshConfig({}, 'lan')).toEqual(lanPreset)
    expect(meshConfig({}, 'sim')).toEqual(lanPreset)
    for (const name of ['shared', 'emulated'] as const) {
      const c = meshConfig({}, name)
      expect(c.probeTimeoutMs).toBeGreaterThan(lanPreset.probeTimeoutMs)
      expect(c.connectTimeoutMs).toBeGreaterThan(lanPreset.connectTimeoutMs)
      expect(c.graftTimeoutMs).toBeGreaterThan(lanPreset.graftTimeoutMs)
    }
  })

  it('overrides win over the named timing, and an unknown key is refused', () => {
    expect(meshConfig({ probeIntervalMs: 300 }, 'shared').probeIntervalMs).toBe(300)
    expect(() => meshConfig({ probeIntervalMS: 1 } as never)).toThrow()
  })
})
