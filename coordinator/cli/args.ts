/**
 * Flag parsing shared by every command: node:util parseArgs in strict mode, turned into
 * ShoalError('usage') with a message that names the bad flag, plus `-o table|json`.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { ShoalError } from '../../agent/protocol/errors.js'

export type Options = NonNullable<ParseArgsConfig['options']>

export const outputOption = { output: { type: 'string', short: 'o', default: 'table' } } as const

export function parse<O extends Options>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new ShoalError('usage', `${(err as Error).message}\nusage: ${usage}`)
  }
}

export function outputFormat(value: unknown): 'table' | 'json' {
  if (value === 'table' || value === 'json') return value
  throw new ShoalError('usage', `-o must be "table" or "json", not "${String(value)}"`)
}

/** Renders rows as an aligned text table. */
export function table(headers: string[], rows: (string | number | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === undefined ? '-' : String(c))))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n')
}
