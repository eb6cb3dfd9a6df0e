#!/usr/bin/env node
// The `shoal` CLI from a checkout. It runs a bundled build of cli/main.ts cached in
// .cache/cli (or $SHOAL_CLI_CACHE), rebuilt when any of its sources changed (bin/cli-cache.js):
// that skips tsx's start and transpiling, ~0.9 s of CPU per invocation. On any build or load
// error, and with SHOAL_CLI_BUNDLE=0, it loads the TypeScript through tsx as before.
import { pathToFileURL } from 'node:url'
import { buildBundle, debug, freshBundle, registerTsx } from './cli-cache.js'

let main
if (process.env.SHOAL_CLI_BUNDLE !== '0') {
  try {
    const file = freshBundle() ?? (await buildBundle())
    main = (await import(pathToFileURL(file).href)).main
    if (typeof main !== 'function') throw new Error(`${file} exports no main()`)
  } catch (err) {
    debug(`bundled CLI unavailable, using tsx: ${String(err?.message ?? err).split('\n')[0]}`)
    main = undefined
  }
}
if (!main) {
  await registerTsx()
  main = (await import('../cli/main.ts')).main
}
process.exitCode = await main(process.argv.slice(2))
