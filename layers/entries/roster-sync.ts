/**
 * Entry of /usr/lib/shoal/roster-sync.mjs, a worker service: keeps /etc/shoal/roster.json
 * current from the coordinator (agent/boot/roster-sync.ts). Reads what the boot agent left:
 * /etc/shoal/cluster.json (coordinator URL, cluster, key) and roster.signed.json (version).
 */
import { readFile } from 'node:fs/promises'
import { setPriority } from 'node:os'
import { startRosterSync } from '../../agent/boot/roster-sync.js'

// Lowest CPU priority: on a slow machine the agent's own start matters more than a refresh.
try {
  setPriority(19)
} catch {
  // not permitted: run at normal priority
}
const dir = process.env.SHOAL_ETC ?? '/etc/shoal'
const cluster = JSON.parse(await readFile(`${dir}/cluster.json`, 'utf8')) as { cluster: string; clusterKey: string; coordinator: string }
const signed = JSON.parse(await readFile(`${dir}/roster.signed.json`, 'utf8').catch(() => '{"version":0}')) as { version: number }
process.stdout.write(`shoal-roster: keeping ${dir}/roster.json current from ${cluster.coordinator} (now v${signed.version})\n`)
startRosterSync({
  pin: { coordinator: cluster.coordinator, cluster: cluster.cluster, clusterKey: cluster.clusterKey },
  rosterFile: `${dir}/roster.json`,
  version: signed.version,
  intervalMs: Number(process.env.SHOAL_ROSTER_INTERVAL_MS ?? 2000),
  timeoutMs: 30_000,
  log: (line) => process.stdout.write(`shoal-roster: ${line}\n`),
})
