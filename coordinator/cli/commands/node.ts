/** `shoal node ID`: one node in detail (record, hardware summary, health conditions). */
import { AgentClient, DEFAULT_AGENT, checkAgentAddress, nodeText } from '../../../agent/api/index.js'
import { ShoalError } from '../../../agent/protocol/errors.js'
import { NodeId } from '../../../agent/protocol/node-record.js'
import { outputFormat, outputOption, parse } from '../args.js'
import type { CliIo } from '../main.js'

export const summary = 'one node in detail: shoal node ID (--agent HOST:PORT, -o table|json)'
const usage = 'shoal node ID [--agent HOST:PORT] [-o table|json]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, { agent: { type: 'string' }, ...outputOption }, usage)
  if (positionals.length !== 1) throw new ShoalError('usage', `expected exactly one node ID\nusage: ${usage}`)
  const id = positionals[0]!
  if (!NodeId.safeParse(id).success) throw new ShoalError('usage', `"${id}" is not a node id (letters, digits, . _ - only; list them with: shoal nodes)`)
  const format = outputFormat(values.output)
  const client = new AgentClient(checkAgentAddress(String(values.agent ?? process.env.SHOAL_AGENT ?? DEFAULT_AGENT)))
  try {
    const n = await client.node(id)
    io.out(format === 'json' ? JSON.stringify(n, null, 2) : nodeText(n))
    return 0
  } finally {
    await client.close()
  }
}
