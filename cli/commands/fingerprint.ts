/**
 * `shoal fingerprint`: this machine's node id, the components it used and why each was
 * kept or dropped. `--sysfs DIR` reads a tree laid out like /sys instead of the machine's,
 * `--known FILE` resolves against known fingerprints (an array of what `-o json` prints),
 * `--known-from HOST:PORT` against those a live agent holds for the whole cluster
 * (GET /v1/fingerprints, what a rebooting worker asks its peers): together they answer
 * "what would this part swap do to the id?".
 */
import { readFile } from 'node:fs/promises'
import { AgentClient } from '../../agent/api/agent-client.js'
import { fingerprintMachine, mergeKnownFingerprints, parseKnownFingerprints, parseMeshFingerprints, type FingerprintReport, type KnownFingerprint } from '../../agent/fingerprint/index.js'
import { ShoalError } from '../../agent/protocol/errors.js'
import { formatted, outputFormat, outputOption, parse, table } from '../args.js'
import type { CliIo } from '../main.js'

export const summary = "this machine's node id from its hardware, and why"
const usage = 'shoal fingerprint [--sysfs DIR] [--procfs DIR] [--known FILE | --known-from HOST:PORT [--timeout-ms MS]] [--node-id NAME] [-o table|wide|json|yaml]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      sysfs: { type: 'string' },
      procfs: { type: 'string' },
      known: { type: 'string' },
      'known-from': { type: 'string' },
      'timeout-ms': { type: 'string' },
      'node-id': { type: 'string' },
      ...outputOption,
    },
    usage,
    {
      summary,
      docs: {
        sysfs: { value: 'DIR', help: 'read a tree laid out like /sys', default: '/sys' },
        procfs: { value: 'DIR', help: 'read a tree laid out like /proc', default: '/proc' },
        known: { value: 'FILE', help: 'resolve against known fingerprints (what -o json prints, as an array)' },
        'known-from': { value: 'HOST:PORT', help: 'resolve against those a live agent holds for the whole cluster' },
        'timeout-ms': { value: 'MS', help: 'for --known-from', default: '5000' },
        'node-id': { value: 'NAME', help: 'the id to use when the hardware has no usable identity' },
      },
    },
  )
  if (positionals.length) throw new ShoalError('usage', `unexpected argument "${positionals[0]}" (see: shoal fingerprint --help)`)
  const format = outputFormat(values.output)
  if (values.known !== undefined && values['known-from'] !== undefined) throw new ShoalError('usage', 'give --known FILE or --known-from HOST:PORT, not both')
  const from = values['known-from']
  const port = from === undefined ? 1 : Number(/^[^\s:/]+:(\d{1,5})$/.exec(from)?.[1] ?? 0)
  if (!(port > 0 && port < 65536)) throw new ShoalError('usage', `--known-from must be HOST:PORT of a shoal agent's API (for example 127.0.0.1:7400), not "${from}"`)
  const timeoutMs = values['timeout-ms'] === undefined ? 5000 : Number(values['timeout-ms'])
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new ShoalError('usage', `--timeout-ms must be a positive integer, not "${values['timeout-ms']}"`)
  const known = values.known ? await readKnown(values.known) : from ? await knownFrom(from, timeoutMs) : []
  const report = await fingerprintMachine({
    ...(values.sysfs ? { sysfsRoot: values.sysfs } : {}),
    ...(values.procfs ? { procfsRoot: values.procfs } : {}),
    ...(values['node-id'] ? { fallbackId: values['node-id'] } : {}),
    known,
  })
  io.out(formatted(format, report, () => render(report, known.length, from ? ` (from the agent at ${from})` : '')))
  return 0
}

/** The known fingerprints a live agent holds (what a rebooting worker asks its peers for). */
async function knownFrom(address: string, timeoutMs: number): Promise<KnownFingerprint[]> {
  const client = new AgentClient(address, timeoutMs)
  let raw: unknown
  try {
    raw = await client.fingerprints()
  } catch (err) {
    if (err instanceof ShoalError && err.code === 'unreachable') {
      throw new ShoalError('unreachable', `cannot reach the agent at ${address} (${describe(err.cause)}); is it running, and is its API open to this host (apiHost)?`, { cause: err })
    }
    if (err instanceof ShoalError && err.code === 'not-found') {
      throw new ShoalError('agent-error', `the agent at ${address} does not serve /v1/fingerprints (an agent older than this CLI?): ${err.message}`, { cause: err })
    }
    throw err
  } finally {
    await client.close()
  }
  const parsed = parseMeshFingerprints(raw)
  if (!parsed.ok) throw new ShoalError('agent-error', `the agent at ${address} answered /v1/fingerprints with something this CLI does not understand (${parsed.detail}); are the agent and CLI the same version?`)
  return mergeKnownFingerprints([parsed.entries])
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string } | undefined
  return e?.code ?? e?.message ?? 'no answer'
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

function render(r: FingerprintReport, knownCount: number, knownOrigin = ''): string {
  const decision =
    r.decision === 'matched'
      ? `matched a known machine${knownOrigin} (score ${r.score})`
      : r.decision === 'operator'
        ? 'the operator-given id (no usable hardware identity)'
        : knownCount
          ? `new: none of ${knownCount} known machines${knownOrigin} matched`
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
