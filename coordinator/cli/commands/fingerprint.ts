/**
 * `shoal fingerprint`: this machine's node id, the components it used and why each was
 * kept or dropped. `--sysfs DIR` reads a tree laid out like /sys instead of the machine's,
 * `--known FILE` resolves against known fingerprints (an array of what `-o json` prints):
 * together they answer "what would this part swap do to the id?".
 */
import { readFile } from 'node:fs/promises'
import { fingerprintMachine, parseKnownFingerprints, type FingerprintReport, type KnownFingerprint } from '../../../agent/fingerprint/index.js'
import { ShoalError } from '../../../agent/protocol/errors.js'
import { outputFormat, parse, table } from '../args.js'
import type { CliIo } from '../main.js'

export const summary = "this machine's node id from its hardware, and why (--sysfs DIR, --known FILE, -o table|json)"
const usage = 'shoal fingerprint [--sysfs DIR] [--procfs DIR] [--known FILE] [--node-id NAME] [-o table|json]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { sysfs: { type: 'string' }, procfs: { type: 'string' }, known: { type: 'string' }, 'node-id': { type: 'string' }, output: { type: 'string', short: 'o', default: 'table' } },
    usage,
  )
  if (positionals.length) throw new ShoalError('usage', `unexpected argument "${positionals[0]}" (usage: ${usage})`)
  const format = outputFormat(values.output)
  const known = values.known ? await readKnown(values.known) : []
  const report = await fingerprintMachine({
    ...(values.sysfs ? { sysfsRoot: values.sysfs } : {}),
    ...(values.procfs ? { procfsRoot: values.procfs } : {}),
    ...(values['node-id'] ? { fallbackId: values['node-id'] } : {}),
    known,
  })
  io.out(format === 'json' ? JSON.stringify(report, null, 2) : render(report, known.length))
  return 0
}

async function readKnown(path: string): Promise<KnownFingerprint[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ShoalError('usage', `cannot read --known ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ShoalError('usage', `--known ${path} is not JSON: ${(err as Error).message}`)
  }
  return parseKnownFingerprints(json, `--known ${path}`)
}

function render(r: FingerprintReport, knownCount: number): string {
  const decision =
    r.decision === 'matched'
      ? `matched a known machine (score ${r.score})`
      : r.decision === 'operator'
        ? 'the operator-given id (no usable hardware identity)'
        : knownCount
          ? `new: none of ${knownCount} known machines matched`
          : 'new: derived from the hardware (no known fingerprints given)'
  const lines = [`id        ${r.id}`, `decision  ${decision}`, '']
  const short = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + '…' : s)
  lines.push(
    table(
      ['KIND', 'DEVICE', 'VALUE', 'SOURCE', 'VERDICT'],
      r.components.map((c) => [c.kind, c.label, short(c.value, 44), c.source.replace(/^sysfs:/, ''), c.matched ? `${c.reason}, matched` : c.reason]),
    ),
  )
  if (r.skipped.length) {
    const byReason = new Map<string, string[]>()
    for (const s of r.skipped) (byReason.get(s.reason) ?? byReason.set(s.reason, []).get(s.reason)!).push(s.label)
    lines.push('', 'skipped:')
    for (const [reason, labels] of byReason) lines.push(`  ${reason}: ${labels.join(', ')}`)
  }
  if (r.candidates.length) {
    lines.push('', 'closest known machines:')
    for (const c of r.candidates) lines.push(`  ${c.id}  score ${c.score}  matches ${c.matches}${c.rejected ? `  not taken: ${c.rejected}` : '  taken'}`)
  }
  if (r.unknown.length) lines.push('', `unknown: ${r.unknown.join(', ')}`)
  for (const w of r.warnings) lines.push(`warning: ${w}`)
  return lines.join('\n')
}
