/**
 * The agent's entry point: `node shoal-agent.mjs --config FILE` (the worker layer's
 * service runs this file, bundled), or `tsx agent/bin.ts --config FILE` from a checkout.
 * `shoal agent --config FILE` runs the same agent through the CLI. A file of its own, so
 * importing agent/main.ts (the CLI, tests, harnesses) never starts an agent.
 */
import { runAgentProcess } from './main.js'

process.exit(await runAgentProcess(process.argv.slice(2)))
