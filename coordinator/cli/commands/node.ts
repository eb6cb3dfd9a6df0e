/** `shoal node ID`: one node in detail (record, hardware summary, health conditions). */
import { parseAgentCommand, nodeText } from '../../../agent/api/index.js'
import { ShoalError } from '../../../agent/protocol/errors.js'
import { NodeId } from '../../../agent/protocol/node-record.js'
import type { CliIo } from '../main.js'

export const summary = 'one node in detail: shoal node ID (--agent HOST:PORT, -o table|json)'
const usage = 'shoal node ID [--agent HOST:PORT] [-o table|json]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { client, format, positionals } = parseAgentCommand(argv, usage, {}, [1, 1])
  const id = positionals[0]!
  if (!NodeId.safeParse(id).success) {
    await client.close()
    throw new ShoalError('usage', `"${id}" is not a node id (letters, digits, . _ - only; list them with: shoal nodes)`)
  }
  try {
    const n = await client.node(id)
    io.out(format === 'json' ? JSON.stringify(n, null, 2) : nodeText(n))
    return 0
  } finally {
    await client.close()
  }
}
