/**
 * The `shoal` CLI run in-process against a wave harness's coordinator (its URL and admin
 * token appended), with what it printed and its exit status.
 */
import { main } from '../../cli/main.js'
import type { WaveHarness } from '../../coordinator/waves/wave-testing.js'

export interface CliRun {
  code: number
  out: string
  err: string
}

export async function shoalAgainst(w: WaveHarness | undefined, argv: string[]): Promise<CliRun> {
  const out: string[] = []
  const err: string[] = []
  const common = w ? ['--coordinator', w.h.url, '--admin-token', w.h.adminToken] : []
  const code = await main([...argv, ...common], { out: (l) => out.push(l), err: (l) => err.push(l) })
  return { code, out: out.join('\n'), err: err.join('\n') }
}
