/** `shoal status`: the cluster at a glance, as any one agent sees it. */
import { parseAgentCommand, statusText } from '../../../agent/api/index.js'
import type { CliIo } from '../main.js'

export const summary = 'cluster summary from one agent (--agent HOST:PORT, -o table|json)'
const usage = 'shoal status [--agent HOST:PORT] [-o table|json]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { client, format } = parseAgentCommand(argv, usage)
  try {
    const c = await client.cluster()
    io.out(format === 'json' ? JSON.stringify(c, null, 2) : statusText(c))
    return 0
  } finally {
    await client.close()
  }
}
