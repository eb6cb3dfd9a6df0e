/**
 * The flags and clients of commands that talk to an agent or to the coordinator: one flag
 * name per concept (`--agent`, `--coordinator`, `--admin-token-file`, `--context`, `-o`),
 * resolved flag > env > config context > default (./cli-config.ts).
 */
import { AgentClient, checkAgentAddress } from '../agent/api/agent-client.js'
import { ShoalError } from '../agent/protocol/errors.js'
import { adminCall, type AdminCallOptions } from '../coordinator/waves/wave-client.js'
import { outputOption } from './args.js'
import { adminTokenFrom, agentAddresses, coordinatorUrl } from './cli-config.js'

export const agentOptions = {
  agent: { type: 'string' },
  context: { type: 'string' },
  ...outputOption,
} as const

export const coordinatorOptions = {
  coordinator: { type: 'string' },
  /** Old name of --coordinator (shoal coordinator nodes --url), kept as a hidden alias. */
  url: { type: 'string' },
  'admin-token': { type: 'string' },
  'admin-token-file': { type: 'string' },
  'data-dir': { type: 'string' },
  context: { type: 'string' },
} as const

/** The agent to ask first, and the others the context knows (for failover). */
export function agentClient(values: Record<string, unknown>, timeoutMs?: number): { client: AgentClient; addresses: string[] } {
  const addresses = agentAddresses(values).map(checkAgentAddress)
  return { client: new AgentClient(addresses[0]!, timeoutMs), addresses }
}

export interface CoordinatorClient {
  url: string
  call(path: string, body?: unknown): Promise<unknown>
}

/** The coordinator's admin API with the admin token; reads the token only on the first call. */
export function coordinatorClient(values: Record<string, unknown>, opts: AdminCallOptions = {}): CoordinatorClient {
  const url = coordinatorUrl(values)
  let token: string | undefined
  return {
    url,
    call: (path, body) => {
      token ??= adminTokenFrom(values)
      return adminCall(url, token, path, body, opts)
    },
  }
}

/** An answer that failed its schema: one line naming the field, and the fix. */
export function badAnswer(who: string, issue: { path: PropertyKey[]; message: string } | undefined, versionHint: string): ShoalError {
  const at = issue?.path.length ? issue.path.map(String).join('.') : '(top)'
  return new ShoalError('bad-answer', `${who} answered with something this CLI does not understand (field ${at}: ${issue?.message ?? 'unexpected shape'}); compare versions with: ${versionHint}`)
}
