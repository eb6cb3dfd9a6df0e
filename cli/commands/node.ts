/** `shoal node ID`: one node in detail (record, hardware summary, health conditions). ID may be a unique prefix. */
import type { AgentClient } from '../../agent/api/index.js'
import { nodeText } from '../../agent/api/index.js'
import { ShoalError } from '../../agent/protocol/errors.js'
import { NodeId } from '../../agent/protocol/node-record.js'
import { formatted, outputFormat, outputOption, parse, positionals, resolveId, table, type FlagDoc } from '../args.js'
import { agentClient, agentOptions, badAnswer, coordinatorClient, coordinatorOptions } from '../clients.js'
import { DEFAULT_RETURNING, HeldNode, NodeVerbAnswer } from '../../coordinator/waves/node-verbs.js'
import { ReturningPolicy } from '../../coordinator/state-store.js'
import { z } from 'zod'
import type { CliIo } from '../main.js'

export const summary = 'one node in detail (ID or a unique prefix of it); node verbs: maintenance on|off, reboot, shutdown, decommission'
const usage = `shoal node ID [--agent HOST:PORT] [-o table|wide|json|yaml]
       shoal node maintenance on|off NODE [--max-unavailable K]
       shoal node reboot|shutdown NODE [--max-unavailable K]
       shoal node decommission NODE [--returning refuse|new] [--max-unavailable K]
       shoal node held
       (verbs: [--coordinator URL] [--admin-token-file FILE] [-o table|json|yaml])`

const VERBS = ['maintenance', 'reboot', 'shutdown', 'decommission', 'held'] as const

const verbOptions = { ...coordinatorOptions, 'max-unavailable': { type: 'string' }, returning: { type: 'string' }, ...outputOption } as const
const verbDocs: Record<string, FlagDoc> = {
  'max-unavailable': { value: 'K', help: 'at most K nodes unavailable at once while the verb takes its slot (every node down or held counts)', default: '1' },
  returning: { value: 'refuse|new', help: 'decommission: if the machine boots again, refuse it (until shoal coordinator forget-retired NODE) or let it enroll as a new machine', default: DEFAULT_RETURNING },
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  if ((VERBS as readonly string[]).includes(argv[0] ?? '')) return runVerb(argv[0] as (typeof VERBS)[number], argv.slice(1), io)
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

/**
 * `shoal node maintenance on|off NODE`, `reboot|shutdown|decommission NODE`, `held`: node
 * verbs through the coordinator (docs/node-verbs.md). Each is a one-node wave under K and
 * the vote's gates; the answer says which wave carries it out.
 */
async function runVerb(verb: (typeof VERBS)[number], argv: string[], io: CliIo): Promise<number> {
  const verbUsage =
    verb === 'maintenance' ? 'shoal node maintenance on|off NODE [--max-unavailable K]' : verb === 'held' ? 'shoal node held' : verb === 'decommission' ? 'shoal node decommission NODE [--returning refuse|new] [--max-unavailable K]' : `shoal node ${verb} NODE [--max-unavailable K]`
  const { values, positionals: args } = parse(argv, verbOptions, verbUsage, { summary, docs: verbDocs })
  const format = outputFormat(values.output)
  const client = coordinatorClient(values, { badRequest: 'usage' })
  if (verb === 'held') {
    positionals(args, 0, 0, verbUsage, '')
    const got = z.object({ held: z.array(HeldNode) }).safeParse(await client.call('/v1/nodes/held'))
    if (!got.success) throw badAnswer(`the coordinator at ${client.url}`, got.error.issues[0], 'shoal version')
    io.out(formatted(format, got.data, () => (got.data.held.length ? table(['NODE', 'HELD', 'SINCE', 'BY', 'WAVE'], got.data.held.map((h) => [h.node, h.kind, new Date(h.since).toISOString(), h.by, h.wave])) : 'no node is held (none in maintenance or shut down)')))
    return 0
  }
  let on: boolean | undefined
  let rest = args
  if (verb === 'maintenance') {
    const [state, ...more] = args
    if (state !== 'on' && state !== 'off') throw new ShoalError('usage', `shoal node maintenance takes on or off first, not "${state ?? ''}" (usage: ${verbUsage})`)
    on = state === 'on'
    rest = more
  }
  const [node] = positionals(rest, 1, 1, verbUsage, 'NODE (a node id; list them with: shoal coordinator nodes)')
  if (!NodeId.safeParse(node).success) throw new ShoalError('usage', `"${node}" is not a node id (letters, digits, . _ - only; list them with: shoal coordinator nodes)`)
  let maxUnavailable: number | undefined
  if (values['max-unavailable'] !== undefined) {
    maxUnavailable = Number(values['max-unavailable'])
    if (!Number.isInteger(maxUnavailable) || maxUnavailable < 1) throw new ShoalError('usage', `--max-unavailable takes a whole number of nodes (1 or more), not "${values['max-unavailable']}"`)
  }
  const returning = values.returning
  if (returning !== undefined) {
    if (verb !== 'decommission') throw new ShoalError('usage', `--returning is for decommission only (what happens when a decommissioned machine boots again); usage: ${verbUsage}`)
    if (!ReturningPolicy.safeParse(returning).success) throw new ShoalError('usage', `--returning takes refuse (a returning machine is refused until: shoal coordinator forget-retired NODE) or new (it enrolls as a new machine), not "${returning}"`)
  }
  const body = { ...(on !== undefined ? { on } : {}), ...(maxUnavailable !== undefined ? { maxUnavailable } : {}), ...(returning !== undefined ? { returning } : {}) }
  const got = NodeVerbAnswer.safeParse(await client.call(`/v1/nodes/${encodeURIComponent(node!)}/${verb}`, body))
  if (!got.success) throw badAnswer(`the coordinator at ${client.url}`, got.error.issues[0], 'shoal version')
  io.out(formatted(format, got.data, () => got.data.message))
  return 0
}
