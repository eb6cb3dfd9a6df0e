/** `shoal nodes`: every node one agent knows, with liveness, phase, image and health. */
import { nodesTable } from '../../agent/api/index.js'
import { formatted, outputFormat, parse, positionals } from '../args.js'
import { agentClient, agentOptions } from '../clients.js'
import type { CliIo } from '../main.js'

export const summary = 'list every node an agent knows'
const usage = 'shoal nodes [--agent HOST:PORT] [-o table|wide|json|yaml]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals: args } = parse(argv, agentOptions, usage, { summary })
  positionals(args, 0, 0, usage)
  const format = outputFormat(values.output)
  const { client } = agentClient(values)
  try {
    const c = await client.cluster()
    io.out(formatted(format, c.nodes, (wide) => nodesTable(c.nodes, { wide })))
    return 0
  } finally {
    await client.close()
  }
}
