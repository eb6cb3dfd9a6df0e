/**
 * `npm run coordinator -- [flags]`: the same as `shoal coordinator serve [flags]`.
 */
import { main } from '../cli/main.js'

process.exitCode = await main(['coordinator', 'serve', ...process.argv.slice(2)])
