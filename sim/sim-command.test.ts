import { describe, expect, it } from 'vitest'
import { simCommand } from './sim-command.js'

describe('npm run sim', () => {
  it('prints byte-identical output for the same seed, and different output for another', async () => {
    const args = ['--scenario', 'crash', '--nodes', '40', '--observe-ms', '2000']
    const a = await simCommand([...args, '--seed', '3'])
    const b = await simCommand([...args, '--seed', '3'])
    const c = await simCommand([...args, '--seed', '4'])
    expect(a.code).toBe(0)
    expect(a.lines.join('\n')).toBe(b.lines.join('\n'))
    expect(a.lines.join('\n')).not.toBe(c.lines.join('\n'))
    expect(a.lines[0]).toContain('seed 3')
  })

  it('with -o json, the last line is one JSON object with nodes, seed and the figures in ms', async () => {
    const r = await simCommand(['--scenario', 'join', '--nodes', '30', '--seed', '5', '--joins', '2', '-o', 'json'])
    expect(r.code).toBe(0)
    const last = JSON.parse(r.lines.at(-1)!)
    expect(last).toMatchObject({ scenario: 'join', nodes: 30, seed: 5, joins: 2, joinsMissed: 0, ok: true })
    expect(last.join999P50Ms).toBeGreaterThan(0)
    expect(last.join100P99Ms).toBeGreaterThanOrEqual(last.join999P50Ms)
  })

  it('a wave prints its own first line with the nodes it ran, not the common default (a matrix once said 200 nodes)', async () => {
    const one = await simCommand(['--scenario', 'wave', '--nodes', '5', '--seed', '2', '--faults', 'off'])
    expect(one.code).toBe(0)
    expect(one.lines[0]).toMatch(/^wave: 5 nodes, K=2, .*seeds 2-2$/)
    const matrix = await simCommand(['--scenario', 'wave', '--matrix', 'nodes=4,5', '--seeds', '1-2', '--workers', '1', '--faults', 'off'])
    expect(matrix.code).toBe(0)
    expect(matrix.lines.join('\n')).not.toMatch(/200 nodes/)
    expect(matrix.lines.filter((l) => /^wave: [45] nodes/.test(l))).toHaveLength(2)
  })

  it('rejects bad arguments with one clear line and exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [[], /--scenario is required; one of: join, crash, partition/],
      [['--scenario', 'nope'], /unknown scenario "nope"/],
      [['--scenario', 'join', '--max-unavailable', '2'], /Unknown option '--max-unavailable'.*scenario join takes: --joins/],
      [['--scenario', 'join', '--nodes', '1'], /--nodes must be at least 2/],
      [['--scenario', 'join', '--nodes', 'many'], /--nodes must be a number, not "many"/],
      [['--scenario', 'join', '--seed', '1.5'], /--seed must be a whole number/],
      [['--scenario', 'join', '--latency', 'moon'], /--latency must be one of lan, campus, wan/],
      [['--scenario', 'crash', '--loss', '2'], /--loss must be at most 1/],
      [['--scenario', 'join', '-o', 'yaml'], /--output must be one of table, json/],
    ]
    for (const [argv, message] of cases) {
      const r = await simCommand(argv)
      expect(r.code, argv.join(' ')).toBe(2)
      expect(r.lines[0]).toMatch(/^error: /)
      expect(r.lines[0]).toMatch(message)
    }
  })

  it('lists every scenario and its own flags in --help', async () => {
    const r = await simCommand(['--help'])
    expect(r.code).toBe(0)
    const text = r.lines.join('\n')
    for (const s of ['--scenario join', '--scenario crash', '--scenario partition', '--joins', '--crashes', '--cut-ms']) expect(text).toContain(s)
  })
})
