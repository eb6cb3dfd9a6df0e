/** `shoal agent --config FILE`: runs the node agent in the foreground (agent/main.ts). */
import { runAgentProcess } from '../../../agent/main.js'
import type { CliIo } from '../main.js'

export const summary = 'run the node agent: shoal agent --config FILE [--node-id ID] [--bootstrap HOST:PORT] ...'

export async function run(argv: string[], _io: CliIo): Promise<number> {
  return runAgentProcess(argv)
}
