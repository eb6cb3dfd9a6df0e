/**
 * How the harness starts an agent process (agent/bin.ts, the agent's entry point): its
 * node flags and its entry (an esbuild bundle, or tsx when esbuild is missing). LocalCluster is its one user; `npm
 * start`, the live tests and bench/live.ts all start agents through LocalCluster.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, realpathSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const AGENT_MAIN = fileURLToPath(new URL('../../agent/bin.ts', import.meta.url))
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BUNDLE_DIR = fileURLToPath(new URL('../../.cache/agent-bundle/', import.meta.url))

/** Node flags of every agent process (agent/node-flags.ts): the demo's, the benches' and the worker service's. */
export { AGENT_NODE_FLAGS } from '../../agent/node-flags.js'

/** Gives the ESM bundle a real `require`: an external loaded late (yaml, for a kubeconfig) calls require(), which esbuild's shim refuses in ESM. */
const REQUIRE_BANNER = "import { createRequire as __shoalCreateRequire } from 'node:module'; const require = __shoalCreateRequire(import.meta.url);"

/**
 * Where this process writes its bundle. `.cache` is shared by every git worktree of the
 * checkout (a symlink to the main one), and several test processes of one worktree bundle
 * at once: the name carries a hash of this worktree's path (two worktrees' sources never
 * overwrite each other's bundle) and this process's pid (two concurrent runs never write
 * one file). The real path: .cache may be a symlink.
 */
export function agentBundlePath(): string {
  mkdirSync(BUNDLE_DIR, { recursive: true })
  const tree = createHash('sha256').update(realpathSync(REPO_ROOT)).digest('hex').slice(0, 12)
  const dir = realpathSync(BUNDLE_DIR)
  // A process killed by a signal never removed its bundle: remove this tree's bundles whose process is gone.
  for (const f of readdirSync(dir)) {
    const pid = Number(new RegExp(`^agent-${tree}-(\\d+)\\.mjs$`).exec(f)?.[1])
    if (pid && pid !== process.pid && !alive(pid)) rmSync(join(dir, f), { force: true })
  }
  return join(dir, `agent-${tree}-${process.pid}.mjs`)
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

let launcher: Promise<string[]> | undefined

/**
 * The arguments after the node flags that run the agent (agent/bin.ts). Bundling it once per process
 * (esbuild, which tsx already brings; ~60 ms) halves each agent's start (~0.6 s instead of
 * ~1.1 s of CPU under tsx), which is what makes 50 agents on 2 cores start in seconds. The
 * bundle is removed when this process exits. Falls back to tsx.
 */
export function agentLauncher(): Promise<string[]> {
  launcher ??= (async () => {
    try {
      const esbuild = (await import('esbuild' as string)) as { build(opts: object): Promise<unknown> }
      const out = agentBundlePath()
      await esbuild.build({ entryPoints: [AGENT_MAIN], outfile: out, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'silent', banner: { js: REQUIRE_BANNER } })
      process.once('exit', () => rmSync(out, { force: true }))
      return [out]
    } catch {
      return ['--import', 'tsx', AGENT_MAIN]
    }
  })()
  return launcher
}
