/**
 * The simulator's command line: `npm run sim -- --nodes 1000 --seed 7 --scenario join`.
 * See sim-command.ts for the flags and docs/sim.md for what the figures mean.
 */
import { simCommand } from './sim-command.js'

const { lines, code } = await simCommand(process.argv.slice(2))
for (const line of lines) (code === 2 ? console.error : console.log)(line)
process.exitCode = code
