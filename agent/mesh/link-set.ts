/**
 * The open links, one per peer (hyperswarm's connection-set idea), and what travels on
 * them: length-prefixed frames (agent/protocol/frame.ts) decoded at the edge, the version
 * handshake, and the bookkeeping of bad input.
 *
 * - Versions (docs/mesh.md, "Versions on the wire"): each side's first frame on a link is
 *   a `hello` with its protocol version. `connected` is reported once the peer's hello has
 *   arrived with our major version (any minor); another major, or no hello first, closes
 *   the link with one log line per peer naming both versions. A message type we do not
 *   know is counted by type (`stats.ignoredTypes`) and reported as `bad-frame`
 *   `unknown-type` — never counted toward `maxBadFramesPerPeer`.
 * - A bad frame becomes a `bad-frame` event, and a peer past `maxBadFramesPerPeer` (or
 *   that sent an oversized frame, which leaves the stream unusable) is disconnected.
 * - A new link that has received nothing for `silentLinkMs` is closed: the mesh speaks
 *   first on every link, so silence means the link is dead.
 * - When hyperswarm replaces a stale connection to the same key, the peer stays connected:
 *   no membership change is reported.
 * - Frames for one peer queued in the same turn of the event loop go out as one write (one
 *   encrypted secret-stream message, one UDX packet or a few): a burst of records or an
 *   anti-entropy answer costs both ends one decryption and one stream event instead of one
 *   per frame. The frames inside are unchanged (a byte stream of length-prefixed frames,
 *   which every version's decoder reads however the chunks fall), so this is no wire change.
 */
import type { NoiseSecretStream } from 'hyperdht'
import { DropReason } from '../protocol/errors.js'
import { encodeFrame, FrameDecoder } from '../protocol/frame.js'
import { decodeHello, decodeMessage, encodeHello, encodeMessage, versionText, type OutMessage } from '../protocol/messages.js'
import type { Logger } from '../protocol/ports.js'
import type { EmitTransportEvent, TransportStats } from './transport-stats.js'

export interface LinkSetOptions {
  selfId: string
  maxFrameBytes: number
  maxBadFramesPerPeer: number
  /** 0 turns the silent-link close off. */
  silentLinkMs: number
  version: { major: number; minor: number }
  stats: TransportStats
  log: Logger
  emit: EmitTransportEvent
}

interface Link {
  conn: NoiseSecretStream
  decoder: FrameDecoder
  badFrames: number
  inbound: boolean
  /** Received any bytes yet. */
  heard: boolean
  framesOut: number
  /** The peer's version, once its hello arrived. */
  hello: { major: number; minor: number } | undefined
  /** `connected` has been reported for this peer (by this link, or the one it replaced). */
  announced: boolean
  /** Frames queued this turn, written together at its end. */
  queued: Uint8Array[]
}

/** Message types of a newer minor version counted by name; past this many, as `other`. */
const MAX_IGNORED_TYPES = 64

export class LinkSet {
  private readonly links = new Map<string, Link>()
  /** Peer ids whose version was refused, with the version: one log line each. */
  private readonly versionRefusals = new Map<string, string>()
  /** Peers whose newer minor version has been logged. */
  private readonly minorLogged = new Set<string>()
  /**
   * The last message encoded, and its body: the mesh sends one message object to each of
   * its eager neighbours in turn (a gossip), so it is encoded once. Messages are never
   * changed once sent (the mesh builds a new object per message).
   */
  private lastSent: { msg: OutMessage; body: Uint8Array } | undefined
  /** Links with frames queued, written at the end of this turn. */
  private readonly toFlush = new Set<Link>()
  private flushScheduled = false

  constructor(
    private readonly o: LinkSetOptions,
    /** A link closed (not one replaced by a newer connection to the same peer). */
    private readonly onClosed: (peer: string) => void,
  ) {}

  get size(): number {
    return this.links.size
  }

  /** A link to `peer` is open (its hello may not have arrived yet). */
  has(peer: string): boolean {
    return this.links.has(peer)
  }

  /** Peer ids with an open connection (their hello arrived with our major version). */
  peers(): string[] {
    return [...this.links].filter(([, l]) => l.announced).map(([id]) => id)
  }

  isConnected(peer: string): boolean {
    return this.links.get(peer)?.announced === true
  }

  /** Takes a new connection to `peer` as its link (replacing an older one). */
  add(peer: string, conn: NoiseSecretStream): void {
    const { o } = this
    const previous = this.links.get(peer)
    const link: Link = {
      conn,
      decoder: new FrameDecoder(o.maxFrameBytes),
      badFrames: 0,
      inbound: !conn.isInitiator,
      heard: false,
      framesOut: 0,
      hello: undefined,
      announced: previous?.announced ?? false,
      queued: [],
    }
    this.links.set(peer, link)
    // Our version first, before anything else we may send on this link.
    this.writeFrame(link, encodeHello(o.version.minor, o.version.major), 'hello')
    if (o.silentLinkMs > 0) this.closeIfSilent(peer, link, o.silentLinkMs)
    conn.on('data', (chunk: Buffer) => this.onData(peer, link, chunk))
    conn.on('close', () => {
      if (this.links.get(peer) !== link) return
      this.links.delete(peer)
      this.countLinks()
      o.log.debug({ component: 'mesh.transport', node: o.selfId, peer }, 'connection closed')
      o.emit('disconnected', peer)
      this.onClosed(peer)
    })
    this.countLinks()
    // hyperswarm replaced a stale connection to the same key: same peer, no membership change.
    if (previous) previous.conn.destroy()
    // `connected` waits for the peer's hello (onData).
  }

  disconnect(peer: string, reason: string): void {
    const link = this.links.get(peer)
    if (!link) return
    this.o.log.debug({ component: 'mesh.transport', node: this.o.selfId, peer, reason }, 'disconnecting peer')
    this.writeQueued(link) // a `bye` queued this turn goes first, as it did when every frame was its own write
    link.conn.destroy()
  }

  destroyAll(): void {
    for (const link of this.links.values()) {
      this.writeQueued(link)
      link.conn.destroy()
    }
  }

  /** Sends one message; false if there is no connection to `peer`. */
  send(peer: string, msg: OutMessage): boolean {
    const link = this.links.get(peer)
    if (!link) return false
    let body: Uint8Array
    if (msg === this.lastSent?.msg) body = this.lastSent.body
    else {
      try {
        body = encodeMessage(msg)
      } catch (err) {
        this.o.log.error({ component: 'mesh.transport', node: this.o.selfId, peer, type: msg.t, err }, 'cannot encode outgoing message')
        return false
      }
      this.lastSent = { msg, body }
    }
    return this.writeFrame(link, body, msg.t)
  }

  /** Sends a body this build's codec does not define (a newer minor's type): only after the peer's hello. */
  sendBody(peer: string, body: Uint8Array, type: string): boolean {
    const link = this.links.get(peer)
    return link?.hello !== undefined && this.writeFrame(link, body, type)
  }

  /** Writes raw bytes, bypassing the codec. For tests of the receiving edge only. */
  sendRaw(peer: string, bytes: Uint8Array): boolean {
    const link = this.links.get(peer)
    if (!link) return false
    this.writeQueued(link) // in order after what was sent before
    link.conn.write(bytes)
    return true
  }

  // ---------------------------------------------------------------- inside

  private writeFrame(link: Link, body: Uint8Array, type: string): boolean {
    const { stats } = this.o
    let frame: Uint8Array
    try {
      frame = encodeFrame(body, this.o.maxFrameBytes)
    } catch (err) {
      this.o.log.error({ component: 'mesh.transport', node: this.o.selfId, type, err }, 'cannot frame outgoing message')
      return false
    }
    stats.framesOut++
    link.framesOut++
    stats.bytesOut += frame.length
    const byType = (stats.out[type] ??= { frames: 0, bytes: 0 })
    byType.frames++
    byType.bytes += frame.length
    link.queued.push(frame)
    this.toFlush.add(link)
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(this.flush)
    }
    return true
  }

  /** Writes each link's queued frames as one chunk. */
  private readonly flush = (): void => {
    this.flushScheduled = false
    for (const link of this.toFlush) this.writeQueued(link)
    this.toFlush.clear()
  }

  private writeQueued(link: Link): void {
    const frames = link.queued
    if (frames.length === 0) return
    link.queued = []
    if (link.conn.destroyed) return
    this.o.stats.writesOut++
    link.conn.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames))
  }

  private closeIfSilent(peer: string, link: Link, silentMs: number): void {
    const { conn } = link
    const t = setTimeout(() => {
      if (link.heard || this.links.get(peer) !== link) return
      this.o.stats.silentLinksClosed++
      // What the raw (UDX) stream saw tells a dead path (nothing read) from a peer that said nothing.
      const raw = conn as unknown as { rawBytesRead?: number; rawBytesWritten?: number; rawStream?: { remoteHost?: string; remotePort?: number; connected?: boolean } }
      this.o.log.warn(
        {
          component: 'mesh.transport',
          node: this.o.selfId,
          peer,
          silentMs,
          inbound: link.inbound,
          framesOut: link.framesOut,
          rawBytesRead: raw.rawBytesRead,
          rawBytesWritten: raw.rawBytesWritten,
          remote: `${raw.rawStream?.remoteHost}:${raw.rawStream?.remotePort}`,
        },
        'closing a link that stayed silent',
      )
      conn.destroy()
    }, silentMs)
    t.unref?.()
    conn.once('close', () => clearTimeout(t))
  }

  /** The peer's first frame: its hello. Our major (any minor) opens the link; anything else closes it. */
  private onHello(peer: string, link: Link, body: Uint8Array): void {
    const { o } = this
    const hello = decodeHello(body)
    const ours = versionText(o.version.major, o.version.minor)
    if (!hello.ok || hello.major !== o.version.major) {
      const theirs = hello.ok ? versionText(hello.major, hello.minor) : `unknown (${hello.detail})`
      o.stats.refusedVersion++
      if (this.versionRefusals.get(peer) !== theirs) {
        this.versionRefusals.set(peer, theirs)
        o.log.warn(
          { component: 'mesh.transport', node: o.selfId, peer, ours, theirs },
          `refusing peer ${peer}: it speaks mesh protocol ${theirs}, this agent speaks ${ours}; a major version change needs the bridge release (docs/mesh.md, "Versions on the wire")`,
        )
      }
      o.emit('rejected', link.conn.remotePublicKey.toString('hex'), 'protocol-version')
      link.conn.destroy()
      return
    }
    link.hello = { major: hello.major, minor: hello.minor }
    const version = versionText(hello.major, hello.minor)
    o.stats.helloVersions[version] = (o.stats.helloVersions[version] ?? 0) + 1
    this.versionRefusals.delete(peer)
    if (hello.minor !== o.version.minor && !this.minorLogged.has(peer)) {
      this.minorLogged.add(peer)
      o.log.info({ component: 'mesh.transport', node: o.selfId, peer, ours, theirs: version }, 'peer speaks another minor version: fields and message types one side does not know are kept and ignored')
    }
    if (link.announced) return
    link.announced = true
    o.log.debug({ component: 'mesh.transport', node: o.selfId, peer, inbound: link.inbound, version }, 'connected')
    o.emit('connected', peer)
  }

  private onData(peer: string, link: Link, chunk: Buffer): void {
    const { stats } = this.o
    if (this.links.get(peer) !== link) return
    link.heard = true
    stats.bytesIn += chunk.length
    stats.chunksIn++
    const bodies = link.decoder.push(chunk)
    for (const body of bodies) {
      stats.framesIn++
      if (!link.hello) {
        this.onHello(peer, link, body)
        if (this.links.get(peer) !== link || !link.hello) return
        continue
      }
      const decoded = decodeMessage(body)
      if (decoded.ok) {
        for (const type of decoded.ignored ?? []) this.ignoreType(peer, type)
        const byType = (stats.in[decoded.msg.t] ??= { frames: 0, bytes: 0 })
        byType.frames++
        byType.bytes += body.length + 4
        this.o.emit('message', peer, decoded.msg, body.length + 4)
      } else if (decoded.reason === DropReason.unknownType) this.ignoreType(peer, decoded.detail)
      else this.badFrame(peer, link, decoded.reason, decoded.detail)
      if (this.links.get(peer) !== link) return
    }
    if (link.decoder.tooLarge) {
      this.badFrame(peer, link, DropReason.frameTooLarge, `length prefix over ${this.o.maxFrameBytes} bytes`)
      // The stream position is lost: nothing after this can be framed.
      this.dropPeer(peer, link, 'oversized frame')
    }
  }

  /** A newer minor's message type: counted by type, reported to the mesh (which counts it too), never held against the peer. */
  private ignoreType(peer: string, type: string): void {
    const byType = this.o.stats.ignoredTypes
    const key = type in byType || Object.keys(byType).length < MAX_IGNORED_TYPES ? type : 'other'
    byType[key] = (byType[key] ?? 0) + 1
    this.o.emit('bad-frame', peer, DropReason.unknownType, type)
  }

  private badFrame(peer: string, link: Link, reason: DropReason, detail: string): void {
    link.badFrames++
    this.o.emit('bad-frame', peer, reason, detail)
    if (link.badFrames >= this.o.maxBadFramesPerPeer) this.dropPeer(peer, link, `${link.badFrames} bad frames`)
  }

  private dropPeer(peer: string, link: Link, why: string): void {
    if (this.links.get(peer) !== link) return
    this.o.stats.disconnectedForBadFrames++
    this.o.log.warn({ component: 'mesh.transport', node: this.o.selfId, peer, why }, 'disconnecting a misbehaving peer')
    this.writeQueued(link)
    link.conn.destroy()
  }

  private countLinks(): void {
    let inbound = 0
    for (const l of this.links.values()) if (l.inbound) inbound++
    const { stats } = this.o
    stats.connections = this.links.size
    stats.inbound = inbound
    stats.outbound = this.links.size - inbound
  }
}
