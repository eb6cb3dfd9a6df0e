#!/usr/bin/env node
// The `shoal` CLI from a checkout: TypeScript is loaded through tsx, no build step.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../coordinator/cli/main.ts')
process.exitCode = await main(process.argv.slice(2))
