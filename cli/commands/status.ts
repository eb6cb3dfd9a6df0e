/** `shoal status`: the cluster at a glance, as any one agent sees it. */
import { statusText } from '../../agent/api/index.js'
import { formatted, outputFormat, parse, positionals } from '../args.js'
import { agentClient, agentOptions } from '../clients.js'
import type { CliIo } from '../main.js'

export const summary = 'cluster summary from one agent'
const usage = 'shoal status [--agent HOST:PORT] [-o table|wide|json|yaml]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals: args } = parse(argv, agentOptions, usage, { summary })
  positionals(args, 0, 0, usage)
  const format = outputFormat(values.output)
  const { client } = agentClient(values)
  try {
    const c = await client.cluster()
    io.out(formatted(format, c, () => statusText(c)))
    return 0
  } finally {
    await client.close()
  }
}
