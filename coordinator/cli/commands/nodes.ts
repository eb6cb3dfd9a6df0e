/** `shoal nodes`: every node one agent knows, with liveness, phase, image and health. */
import { parseAgentCommand, nodesTable } from '../../../agent/api/index.js'
import type { CliIo } from '../main.js'

export const summary = 'list every node an agent knows (--agent HOST:PORT, -o table|json)'
const usage = 'shoal nodes [--agent HOST:PORT] [-o table|json]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { client, format } = parseAgentCommand(argv, usage)
  try {
    const c = await client.cluster()
    io.out(format === 'json' ? JSON.stringify(c.nodes, null, 2) : nodesTable(c.nodes))
    return 0
  } finally {
    await client.close()
  }
}
