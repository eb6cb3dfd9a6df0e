/** What the hyperswarm transport counts (served by /v1/self and the agent's /metrics), and the events it emits. */
import type { DropReason } from '../protocol/errors.js'
import type { MeshMessage } from '../protocol/messages.js'

export interface TransportStats {
  connections: number
  inbound: number
  outbound: number
  discovered: number
  dials: number
  /**
   * Dials let go when their hold-off ended: the links wanted had come up meanwhile (peers
   * that dialled us), so the link would only have added to the degree.
   */
  dialsDropped: number
  /** Dials sent straight to the address a peer's record names (no DHT lookup first). */
  directDials: number
  /** Of those, dials that fell back to a DHT lookup (not connected within 1.5 s). */
  directFallbacks: number
  /** Inbound connections refused, by why. */
  rejected: { notOnRoster: number; inboundCap: number }
  /** Peers disconnected for bad frames. */
  disconnectedForBadFrames: number
  /** Links closed because the peer spoke another major version (or sent no hello first). */
  refusedVersion: number
  /** Hellos received, by the version they announced ("1.0", "1.1"): who speaks what. */
  helloVersions: Record<string, number>
  /** Messages of types this version does not know (a newer minor's), by type: ignored. */
  ignoredTypes: Record<string, number>
  /** New links closed because nothing ever arrived on them. */
  silentLinksClosed: number
  framesIn: number
  framesOut: number
  bytesIn: number
  bytesOut: number
  /** Writes to the encrypted streams: frames queued for one peer in one turn go as one write. */
  writesOut: number
  /** Chunks read from the encrypted streams (each may hold several frames). */
  chunksIn: number
  /** Frames and bytes sent, by message type (where the bytes go). */
  out: Record<string, { frames: number; bytes: number }>
  /** Frames and bytes received and decoded, by message type. */
  in: Record<string, { frames: number; bytes: number }>
  /** hyperswarm's own connection counts (client attempted/opened/closed, server opened/closed). */
  readonly swarmConnects?: unknown
}

export function newTransportStats(): TransportStats {
  return {
    connections: 0,
    inbound: 0,
    outbound: 0,
    discovered: 0,
    dials: 0,
    dialsDropped: 0,
    directDials: 0,
    directFallbacks: 0,
    rejected: { notOnRoster: 0, inboundCap: 0 },
    disconnectedForBadFrames: 0,
    refusedVersion: 0,
    helloVersions: {},
    ignoredTypes: {},
    silentLinksClosed: 0,
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    writesOut: 0,
    chunksIn: 0,
    out: {},
    in: {},
  }
}

export interface TransportEvents {
  connected: [peer: string]
  disconnected: [peer: string]
  message: [peer: string, msg: MeshMessage, bytes: number]
  'bad-frame': [peer: string, reason: DropReason, detail: string]
  /** A connection attempt was refused: a key not on the roster, the inbound cap, or a peer of another major version. */
  rejected: [key: string, reason: 'not-on-roster' | 'inbound-cap' | 'protocol-version']
}

/** How a transport part reports an event (the SwarmTransport's own `emit`). */
export type EmitTransportEvent = <K extends keyof TransportEvents>(event: K, ...args: TransportEvents[K]) => void
