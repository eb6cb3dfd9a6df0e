/**
 * Entry of the `shoal` bundle shipped in the worker and controller layers: the same CLI as
 * bin/shoal.js, without tsx. `shoal agent --config FILE` is the agent's run mode.
 */
import { main } from '../../cli/main.js'

process.exitCode = await main(process.argv.slice(2))
