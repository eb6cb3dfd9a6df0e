/** `shoal node ID`: one node in detail (record, hardware summary, health conditions). ID may be a unique prefix. */
import type { AgentClient } from '../../agent/api/index.js'
import { nodeText } from '../../agent/api/index.js'
import { ShoalError } from '../../agent/protocol/errors.js'
import { NodeId } from '../../agent/protocol/node-record.js'
import { formatted, outputFormat, parse, positionals, resolveId } from '../args.js'
import { agentClient, agentOptions } from '../clients.js'
import type { CliIo } from '../main.js'

export const summary = 'one node in detail (ID or a unique prefix of it)'
const usage = 'shoal node ID [--agent HOST:PORT] [-o table|wide|json|yaml]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals: args } = parse(argv, agentOptions, usage, { summary })
  const [given] = positionals(args, 1, 1, usage, 'ID (a node id or a unique prefix; list them with: shoal nodes)')
  const format = outputFormat(values.output)
  if (!NodeId.safeParse(given).success) throw new ShoalError('usage', `"${given}" is not a node id (letters, digits, . _ - only; list them with: shoal nodes)`)
  const { client } = agentClient(values)
  try {
    const n = await withNodeId(client, given!, (id) => client.node(id))
    io.out(formatted(format, n, () => nodeText(n)))
    return 0
  } finally {
    await client.close()
  }
}

/**
 * Asks about a node by what the operator typed: the id as given, and if the agent knows
 * no such node, the one id it is a unique prefix of (an ambiguous prefix is a usage error
 * listing the candidates). One line naming `shoal nodes` when nothing matches.
 */
export async function withNodeId<T>(client: AgentClient, given: string, ask: (id: string) => Promise<T>): Promise<T> {
  let notFound: ShoalError
  try {
    return await ask(given)
  } catch (err) {
    if (!(err instanceof ShoalError) || err.code !== 'not-found') throw err
    notFound = err
  }
  const nodes = await client.cluster().then(
    (c) => c.nodes,
    () => undefined,
  )
  if (!nodes) throw notFound // an agent without the cluster list: its own answer stands
  const id = resolveId(given, nodes.map((n) => n.id))
  if (id === undefined || id === given) throw new ShoalError('not-found', `no node "${given}" is known to the agent at ${client.address}; list them with: shoal nodes --agent ${client.address}`)
  return ask(id)
}
