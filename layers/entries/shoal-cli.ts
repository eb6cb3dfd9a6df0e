/**
 * Entry of the `shoal` bundle shipped in the worker and controller layers: the same CLI as
 * bin/shoal.js, without tsx. (The worker's service runs the agent's own bundle, agent/bin.ts.)
 */
import { main } from '../../cli/main.js'

process.exitCode = await main(process.argv.slice(2))
