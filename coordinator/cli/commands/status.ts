/** `shoal status`: the cluster at a glance, as any one agent sees it. */
import { AgentClient, DEFAULT_AGENT, checkAgentAddress, statusText } from '../../../agent/api/index.js'
import { ShoalError } from '../../../agent/protocol/errors.js'
import { outputFormat, outputOption, parse } from '../args.js'
import type { CliIo } from '../main.js'

export const summary = 'cluster summary from one agent (--agent HOST:PORT, -o table|json)'
const usage = 'shoal status [--agent HOST:PORT] [-o table|json]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, { agent: { type: 'string' }, ...outputOption }, usage)
  if (positionals.length > 0) throw new ShoalError('usage', `unexpected argument "${positionals[0]}"\nusage: ${usage}`)
  const format = outputFormat(values.output)
  const client = new AgentClient(checkAgentAddress(String(values.agent ?? process.env.SHOAL_AGENT ?? DEFAULT_AGENT)))
  try {
    const c = await client.cluster()
    io.out(format === 'json' ? JSON.stringify(c, null, 2) : statusText(c))
    return 0
  } finally {
    await client.close()
  }
}
