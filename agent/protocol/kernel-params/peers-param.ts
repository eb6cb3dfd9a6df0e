/**
 * `shoal.peers=HOST:PORT,...` on the kernel command line: agent APIs the boot agent asks
 * for the cluster's known fingerprints (GET /v1/fingerprints) before it enrolls, so a
 * rebooted worker resolves its old id even while the coordinator is unreachable. The
 * operator sets it once in the coordinator's `kernelArgs` (a few long-lived agents, or a
 * DNS name that points at several). Peers are an aid, never a requirement: an entry that
 * is not HOST:PORT is skipped with a warning instead of stopping the boot.
 */
export interface PeersParam {
  /** Valid HOST:PORT entries, deduplicated, in the order given; at most MAX_PEERS. */
  peers: string[]
  /** Entries that were skipped, with why (for the console). */
  skipped: string[]
}

/** More would only slow a boot whose peers are down: each unreachable one costs up to peerTimeoutMs (in parallel). */
export const MAX_PEERS = 16

const HOST_PORT = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/

/** The `shoal.peers=` word for `peers` (HOST:PORT each); '' for none. */
export function formatPeersParam(peers: readonly string[]): string {
  return peers.length ? `shoal.peers=${peers.join(',')}` : ''
}

export function parsePeersParam(cmdline: string): PeersParam {
  const peers: string[] = []
  const skipped: string[] = []
  for (const word of cmdline.trim().split(/\s+/)) {
    if (!word.startsWith('shoal.peers=')) continue
    for (const entry of word.slice('shoal.peers='.length).split(',').filter(Boolean)) {
      const m = HOST_PORT.exec(entry)
      const port = m ? Number(m[2]) : 0
      if (!m || port < 1 || port > 65535) skipped.push(`"${entry.slice(0, 80)}" is not HOST:PORT`)
      else if (peers.includes(entry)) continue
      else if (peers.length >= MAX_PEERS) skipped.push(`"${entry}": more than ${MAX_PEERS} peers`)
      else peers.push(entry)
    }
  }
  return { peers, skipped }
}
