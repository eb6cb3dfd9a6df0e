/**
 * A violation's replay line (WaveViolation.report) names every flag of its case, so the
 * pasted command runs exactly the failing run: here a case far from every default (nodes,
 * K, domains, policy, placement, pool size and min_size, operator, a loss ceiling) is made
 * to fail, its line is run through the sim CLI, and the CLI's run must be the same run.
 */
import { describe, expect, it } from 'vitest'
import { simCommand } from '../sim/sim-command.js'
import { WaveViolation } from '../sim/wave/invariant-checker.js'
import { runWave, summarize } from '../sim/wave/run-wave.js'
import { waveSimConfig } from '../sim/wave/wave-config.js'
import { WaveWorld } from '../sim/wave/wave-world.js'

describe('vote sweep: a violation reproduces from its report', () => {
  it('the reproduce line carries every case flag, and running it gives the very same run', async () => {
    const cfg = waveSimConfig({ nodes: 5, maxUnavailable: 2, domains: 3, policy: 'one-at-a-time' })
    cfg.ceph = { ...cfg.ceph, placeBy: 'host', size: 2, minSize: 1 }
    cfg.faults = { ...cfg.faults, operator: false, maxLoss: 0.2 }
    const seed = 7
    let report = ''
    try {
      new WaveWorld(cfg, seed).checker.fail('e', 'made to fail for this test')
    } catch (err) {
      expect(err).toBeInstanceOf(WaveViolation)
      report = (err as WaveViolation).report()
    }
    const line = report.split('\n').find((l) => l.startsWith('reproduce: '))
    expect(line, report).toBeDefined()
    const argv = line!.replace('reproduce: npm run sim -- ', '').split(' ')
    for (const flag of ['--nodes 5', '--max-unavailable 2', '--domains 3', '--policy one-at-a-time', '--placement host', '--pool-size 2', '--min-size 1', '--faults on', '--operator off', '--loss 0.2', `--seeds ${seed}-${seed}`]) expect(line).toContain(flag)

    const cli = await simCommand([...argv.filter((a) => a !== '--trace'), '-o', 'json'])
    const got = JSON.parse(cli.lines.at(-1)!)
    expect(got).toMatchObject({ nodes: 5, 'max-unavailable': 2, domains: 3, policy: 'one-at-a-time', placement: 'host', 'pool-size': 2, 'min-size': 1, faults: 'on', operator: 'off', seedFrom: seed, seedTo: seed })
    // The same run: what the library gives for this config and seed, the CLI gave too.
    const direct = summarize(cfg, seed, seed, [runWave(cfg, seed)], 0)
    expect(direct.seeds).toBe(1)
    expect({ halted: got.halted, incomplete: got.incomplete, makespan: got.makespanP50Sec, perLease: got.messagesPerLease, maxHolders: got.maxHolders }).toEqual({
      halted: direct.halted,
      incomplete: direct.incomplete,
      makespan: direct.makespanSec?.p50 ?? null,
      perLease: direct.messagesPerLease ?? null,
      maxHolders: direct.maxHolders,
    })
  }, 120_000)
})
