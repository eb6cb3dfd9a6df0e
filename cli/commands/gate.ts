/**
 * `shoal gate pre|post NODE`: evaluates the pre-reboot or post-reboot gate for NODE (its
 * Kubernetes node name and CRUSH host) as a dry run — reads only, changes nothing.
 * Exit 0 when the gate passes, 1 when it fails (with the reasons), 2 on usage errors.
 */
import { postReboot, preReboot } from '../../agent/health/gates.js'
import { ShoalError } from '../../agent/protocol/errors.js'
import { formatted, outputFormat, parse } from '../args.js'
import type { CliIo } from '../main.js'
import { sourceDocs, sourceOptions, sourceUsage, sourcesFrom } from './health.js'

export const summary = 'dry-run the pre-reboot or post-reboot health gate for a node (exit 0 pass, 1 fail)'

const usage = `shoal gate pre|post NODE ${sourceUsage}`

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, sourceOptions, usage, { summary, docs: sourceDocs })
  const format = outputFormat(values.output)
  const [which, node, ...extra] = positionals
  if (which !== 'pre' && which !== 'post') throw new ShoalError('usage', `first argument must be "pre" or "post", not ${which ? `"${which}"` : 'nothing'} (see: shoal gate --help)`)
  if (!node) throw new ShoalError('usage', `missing NODE (the Kubernetes node name / CRUSH host) (see: shoal gate --help)`)
  if (extra.length) throw new ShoalError('usage', `unexpected arguments: ${extra.join(' ')} (see: shoal gate --help)`)
  const sources = sourcesFrom(values)
  try {
    const round = await sources.observer(node).observe(which)
    const r = which === 'pre' ? preReboot(round.obs) : postReboot(round.obs)
    if (format === 'json' || format === 'yaml') {
      io.out(formatted(format, { ...r, ms: Math.round(round.ms.total) }, () => ''))
    } else {
      io.out(`${which}-reboot gate for ${node}: ${r.pass ? 'PASS' : 'FAIL'}`)
      for (const c of r.checks) io.out(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.source.padEnd(7)} ${c.check.padEnd(15)} ${c.message}`)
      for (const s of r.skipped) io.out(`  skipped: ${s}`)
      if (!r.pass) io.out(`reasons:\n${r.reasons.map((x) => `  - ${x}`).join('\n')}`)
    }
    return r.pass ? 0 : 1
  } finally {
    await sources.close()
  }
}
