/**
 * `shoal version`: this CLI's version, and that of the agent and/or coordinator named
 * (--agent, --coordinator; or both with --all from the config context). Exit 3 when one
 * named does not answer (what did answer is still printed).
 */
import { AgentClient, checkAgentAddress } from '../../agent/api/agent-client.js'
import { ShoalError } from '../../agent/protocol/errors.js'
import { PROTOCOL_VERSION } from '../../agent/protocol/frame.js'
import { SOFTWARE_VERSION } from '../../agent/protocol/software-version.js'
import { formatted, outputFormat, outputOption, parse, positionals, table } from '../args.js'
import { agentAddresses, coordinatorUrl } from '../cli-config.js'
import type { CliIo } from '../main.js'

export const summary = "this CLI's version, and the agent's or coordinator's when one is named"
const usage = 'shoal version [--agent HOST:PORT] [--coordinator URL] [--all] [-o table|wide|json|yaml]'

interface Row {
  component: string
  address?: string
  version?: string
  protocol?: number
  error?: string
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals: args } = parse(
    argv,
    { agent: { type: 'string' }, coordinator: { type: 'string' }, all: { type: 'boolean' }, context: { type: 'string' }, ...outputOption },
    usage,
    { summary, docs: { all: { help: "also ask the context's (or default) agent and coordinator" } } },
  )
  positionals(args, 0, 0, usage)
  const format = outputFormat(values.output)
  const rows: Row[] = [{ component: 'cli', version: SOFTWARE_VERSION, protocol: PROTOCOL_VERSION }]
  if (values.agent !== undefined || values.all) rows.push(await agentVersion(checkAgentAddress(agentAddresses(values)[0]!)))
  if (values.coordinator !== undefined || values.all) rows.push(await coordinatorVersion(coordinatorUrl(values)))
  io.out(formatted(format, rows, () => table(['COMPONENT', 'ADDRESS', 'VERSION', 'PROTOCOL', 'ERROR'], rows.map((r) => [r.component, r.address, r.version, r.protocol, r.error]))))
  const failed = rows.find((r) => r.error)
  if (failed) throw new ShoalError('unreachable', `${failed.component} at ${failed.address}: ${failed.error}`)
  return 0
}

async function agentVersion(address: string): Promise<Row> {
  const client = new AgentClient(address)
  try {
    const self = await client.self()
    return { component: 'agent', address, version: self.software?.version ?? 'unknown (older than 0.1.0)', protocol: self.software?.protocol }
  } catch (err) {
    return { component: 'agent', address, error: (err as Error).message.split(';')[0]! }
  } finally {
    await client.close()
  }
}

async function coordinatorVersion(url: string): Promise<Row> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) })
    const body = (await res.json()) as { version?: unknown; protocol?: unknown }
    return { component: 'coordinator', address: url, version: typeof body.version === 'string' ? body.version : 'unknown (older than 0.1.0)', protocol: typeof body.protocol === 'number' ? body.protocol : undefined }
  } catch (err) {
    const e = err as Error
    return { component: 'coordinator', address: url, error: `cannot reach it (${(e.cause as Error | undefined)?.message ?? e.message})` }
  }
}
