/**
 * The agent's entry point: `tsx agent/bin.ts --config FILE` from a checkout (the demo and
 * bench bundles run this file too). The worker layer ships the same runAgentProcess as a
 * CommonJS bundle with a V8 code cache (layers/entries/shoal-agent.ts, docs/boot.md).
 * `shoal agent --config FILE` runs the same agent through the CLI. A file of its own, so
 * importing agent/main.ts (the CLI, tests, harnesses) never starts an agent.
 */
// First: before any module builds a zod schema (agent/zod-jitless.ts).
import './zod-jitless.js'
import { runAgentProcess } from './main.js'

process.exit(await runAgentProcess(process.argv.slice(2)))
