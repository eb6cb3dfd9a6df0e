/**
 * `shoal coordinator operator add NAME --key FILE.pub | remove NAME | list | keygen FILE`:
 * who may sign shell grants (docs/shell.md). add/remove change the signed roster (every
 * agent follows within seconds) and are audited (`shoal coordinator audit --kind operator`).
 */
import { z } from 'zod'
import { ShoalError } from '../agent/protocol/errors.js'
import { OperatorName } from '../agent/protocol/shell-grant.js'
import { adminRoutes } from '../coordinator/admin-api.js'
import { OperatorRecord } from '../coordinator/operator-record.js'
import { outputFormat, outputOption, parse, table, wantsHelp } from './args.js'
import { coordinatorClient, coordinatorOptions } from './clients.js'
import type { CliIo } from './main.js'
import { readPublicKey, writeOperatorKey } from './operator-key.js'

export const OPERATOR_USAGE = `shoal coordinator operator add NAME --key FILE.pub | remove NAME | list [-o table|json] [--coordinator URL] [--admin-token-file FILE]
       shoal coordinator operator keygen FILE   (writes FILE, mode 0600, and FILE.pub)`

export async function operatorCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv
  const { values, positionals } = parse(
    wantsHelp(argv) ? argv : rest,
    { key: { type: 'string' }, ...coordinatorOptions, ...outputOption },
    OPERATOR_USAGE,
    { summary: 'who may sign shell grants', docs: { key: { value: 'FILE.pub', help: 'add: the operator\'s public key file' } } },
  )
  const need = (n: number, what: string) => {
    if (positionals.length !== n) throw new ShoalError('usage', `operator ${sub} needs ${what}\nusage: ${OPERATOR_USAGE}`)
  }
  if (sub === 'keygen') {
    need(1, 'a FILE to write the private key to')
    const pub = await writeOperatorKey(positionals[0]!)
    io.out(`private key in ${positionals[0]} (keep it), public key ${pub} in ${positionals[0]}.pub`)
    return 0
  }
  if (sub !== 'add' && sub !== 'remove' && sub !== 'list') throw new ShoalError('usage', `${sub ? `unknown operator subcommand "${sub}"` : 'missing operator subcommand'}\nusage: ${OPERATOR_USAGE}`)
  const format = outputFormat(values.output)
  const call = coordinatorClient(values, { badRequest: 'usage', refusedCode: 'failed' }).call
  if (sub === 'list') {
    need(0, 'no arguments')
    const { operators } = z.object({ operators: z.array(OperatorRecord) }).parse(await call(adminRoutes.operators))
    if (format === 'json') io.out(JSON.stringify(operators, null, 2))
    else io.out(operators.length ? table(['NAME', 'KEY', 'ADDED', 'BY'], operators.map((o) => [o.name, o.key, new Date(o.addedAt).toISOString(), o.by])) : 'no operators: add one with shoal coordinator operator add NAME --key FILE.pub')
    return 0
  }
  need(1, 'a NAME')
  const name = positionals[0]!
  if (!OperatorName.safeParse(name).success) throw new ShoalError('usage', `"${name}" is not an operator name (letters, digits, . _ @ - only)`)
  if (sub === 'add') {
    const keyFile = values.key as string | undefined
    if (!keyFile) throw new ShoalError('usage', `operator add needs --key FILE.pub\nusage: ${OPERATOR_USAGE}`)
    const rec = OperatorRecord.parse(await call(adminRoutes.operators, { name, key: await readPublicKey(keyFile) }))
    io.out(format === 'json' ? JSON.stringify(rec) : `operator ${rec.name} (key ${rec.key.slice(0, 16)}…) is on the roster; agents accept their grants once they synced it (seconds)`)
    return 0
  }
  await call(adminRoutes.removeOperator, { name })
  io.out(`operator ${name} removed from the roster; agents refuse their grants once they synced it (seconds)`)
  return 0
}
