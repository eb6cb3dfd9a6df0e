/**
 * worker: the shoal agent and its service. The service runs the agent (runAgentProcess, as
 * agent/bin.ts does) from one CommonJS bundle with a V8 code cache made at build time:
 * /usr/lib/shoal/shoal-agent.cjs is its loader (layers/code-cache.ts), run with --config
 * /etc/shoal/agent.json, a file the boot agent writes into the tmpfs upper before
 * switch_root; the agent also keeps the roster file beside it current from the coordinator
 * (no second process). The `shoal` CLI is there too for the operator on the node. Both share the
 * native addons beside them.
 */
import { existsSync } from 'node:fs'
import { copyFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { LayerSpec, StageContext } from '../layer-spec.js'
import { NATIVE_PACKAGES, bundle, copyPackages } from '../bundle.js'
import { AGENT_NODE_FLAGS } from '../../agent/node-flags.js'
import { bundleWithCodeCache } from '../code-cache.js'
import { put } from '../stage.js'

export const AGENT_CONFIG_PATH = '/etc/shoal/agent.json'
/** What the worker's service runs: the agent's code-cache loader (beside it shoal-agent.bundle.cjs and its .v8cache). */
export const AGENT_BUNDLE_PATH = '/usr/lib/shoal/shoal-agent.cjs'
/**
 * The node flags the agent's service runs with (agent/node-flags.ts: less RSS, less CPU; the
 * start too: 8 interleaved starts, p50 ~475 -> ~434 ms). Its V8 code cache is made with the
 * same flags (V8 hashes them into it).
 */
export const AGENT_SERVICE_NODE_FLAGS: readonly string[] = AGENT_NODE_FLAGS
/** Built-ins the agent loads between its top level and ready (net's first listen loads cluster, its first lookup dns): loaded up front by the loader (layers/code-cache.ts builtins). */
export const AGENT_EARLY_BUILTINS: readonly string[] = ['cluster', 'dns']
/**
 * Packages shipped beside the agent's bundle, each with its own code cache, compiled on first use
 * (layers/code-cache.ts sideBundles), none of them run before ready by an agent without waves:
 * undici (a third of the bundle's source: a forwarded request, a Kubernetes call), yaml (a
 * kubeconfig), ws (a remote shell), prom-client (the first scrape, or the upgrade agent's
 * series). Main bundle 1.77 -> 0.97 MB, its cache 1.36 -> 1.23 MB.
 */
export const AGENT_SIDE_BUNDLES: readonly string[] = ['undici', 'yaml', 'ws', 'prom-client']
const AGENT_COMMAND = ['/usr/bin/node', ...AGENT_SERVICE_NODE_FLAGS, AGENT_BUNDLE_PATH, '--config', AGENT_CONFIG_PATH].join(' ')

const SERVICE = `#!/bin/sh
# shoal-agent: respawned by init. The boot agent wrote ${AGENT_CONFIG_PATH} before switch_root.
read -r up _ < /proc/uptime
echo "shoal-agent: starting (uptime $up s)"
exec ${AGENT_COMMAND}
`

// Booted with shoal.diag=1 (debugging a slow or stuck worker from its serial console):
// every 20 s the load and the busiest processes. Otherwise it sleeps for good.
const DIAG_SERVICE = `#!/bin/sh
# shoal-diag: load and top processes on the console when the kernel has shoal.diag=1.
grep -q 'shoal.diag=1' /proc/cmdline || exec sleep 2147483647
while :; do
  sleep 20
  echo "shoal-diag: uptime $(cut -d' ' -f1 /proc/uptime) s, load $(cut -d' ' -f1-4 /proc/loadavg)"
  top -b -n 1 | sed -n '2p;5,12p' | cut -c1-120 | sed 's/^/shoal-diag: /'
done
`

const SYSTEMD_UNIT = `[Unit]
Description=shoal agent (mesh member)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=${AGENT_COMMAND}
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
`

/** Bundles the CLI and copies its natives under root/usr/lib/shoal; shared with the controller layer. */
export async function stageShoalCli({ root, repoRoot }: StageContext): Promise<void> {
  await bundle({
    entry: join(repoRoot, 'layers/entries/shoal-cli.ts'),
    outFile: join(root, 'usr/lib/shoal/shoal.mjs'),
    external: NATIVE_PACKAGES,
  })
  // Natives, plus what child processes load from beside the bundle: the inventory collector
  // runs systeminformation in a child (agent/inventory/si-child.mjs, found via import.meta.url).
  await copyPackages([...NATIVE_PACKAGES, 'systeminformation'], join(repoRoot, 'node_modules'), join(root, 'usr/lib/shoal/node_modules'))
  if (existsSync(join(repoRoot, 'agent/inventory/si-child.mjs'))) await copyFile(join(repoRoot, 'agent/inventory/si-child.mjs'), join(root, 'usr/lib/shoal/si-child.mjs'))
  await put(root, 'usr/bin/shoal', '#!/bin/sh\nexec /usr/bin/node /usr/lib/shoal/shoal.mjs "$@"\n', 0o755)
}

export const worker: LayerSpec = {
  name: 'worker',
  description: 'the shoal agent (run mode) and its service',
  archPackages: [],
  async stage(ctx) {
    await stageShoalCli(ctx)
    const { root, version } = ctx
    // The cache is made by this node, the one installNode puts in the image (layers/stage.ts).
    await bundleWithCodeCache({
      entry: join(ctx.repoRoot, 'layers/entries/shoal-agent.ts'),
      dir: join(root, dirname(AGENT_BUNDLE_PATH).slice(1)),
      name: basename(AGENT_BUNDLE_PATH, '.cjs'),
      external: NATIVE_PACKAGES,
      nodeFlags: AGENT_SERVICE_NODE_FLAGS,
      builtins: AGENT_EARLY_BUILTINS,
      sideBundles: AGENT_SIDE_BUNDLES,
      reuseDir: ctx.cacheDir,
    })
    await put(root, 'etc/shoal/image-version', `${version}\n`)
    await put(root, 'etc/shoal/role', 'worker\n')
    await put(root, 'etc/shoal/services/shoal-agent', SERVICE, 0o755)
    await put(root, 'etc/shoal/services/shoal-diag', DIAG_SERVICE, 0o755)
    await put(root, 'usr/lib/systemd/system/shoal-agent.service', SYSTEMD_UNIT)
    // No roster-sync service: the agent keeps its roster current itself (layers/entries/shoal-agent.ts),
    // one node process per worker instead of two starting together (docs/boot.md).
    await put(root, 'etc/inittab', '::sysinit:/etc/shoal/rc.sysinit\n::respawn:/etc/shoal/services/shoal-agent\n::respawn:/etc/shoal/services/shoal-diag\n::ctrlaltdel:/sbin/reboot\n::shutdown:/bin/sync\n')
  },
}
