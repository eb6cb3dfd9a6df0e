/**
 * The hyperswarm transport: the only place the mesh touches hyperswarm/hyperdht.
 *
 * - Private DHT: every node gets its own `new DHT({ bootstrap, host })` with the bootstrap
 *   list from config (never the public one; a shared/default DHT gives one-sided
 *   connections on small networks).
 * - Discovery: announce on the cluster topic, and look the topic up ourselves, again
 *   whenever we are under-connected (hyperswarm alone re-queries only every ~10 min, so
 *   nodes that join together would never find each other).
 * - Dialing: at once toward smaller keys only; toward greater keys only after a random
 *   hold-off and only if that peer has not dialled us meanwhile. The direction is
 *   hyperswarm's own: when a second connection from the same key reaches a server,
 *   hyperswarm keeps the NEW one only if the server holds the smaller key (the greater
 *   key is its "expected initiator"); otherwise it keeps the old one and destroys the new.
 *   A dial that is retried (a first attempt timed out at the client after the server had
 *   accepted it — common on a loaded machine) therefore left a server dialled by a
 *   smaller key holding the abandoned first connection, and the client writing into a
 *   connection the server had destroyed: a link silent on both ends until the silent-link
 *   close. Dialled the greater-to-smaller way, the retry replaces the stale connection.
 * - `firewall`: only roster keys get in; inbound connections are capped (hyperswarm's
 *   maxPeers does not cap them); one connection per key.
 * - Framing: length-prefixed frames (agent/protocol/frame.ts) decoded at the edge; a bad
 *   frame becomes a `bad-frame` event, and a peer past `maxBadFramesPerPeer` (or that sent
 *   an oversized frame, which leaves the stream unusable) is disconnected.
 * - Versions (docs/mesh.md, "Versions on the wire"): each side's first frame on a link is
 *   a `hello` with its protocol version. `connected` is reported once the peer's hello has
 *   arrived with our major version (any minor); another major, or no hello first, closes
 *   the link with one log line per peer naming both versions. A message type we do not
 *   know is counted by type (`stats.ignoredTypes`) and reported as `bad-frame`
 *   `unknown-type` — never counted toward `maxBadFramesPerPeer`.
 */
import { EventEmitter } from 'node:events'
import DHT, { type NoiseSecretStream } from 'hyperdht'
import Hyperswarm, { type PeerInfo } from 'hyperswarm'
import { DropReason } from '../protocol/errors.js'
import { encodeFrame, FrameDecoder, MAX_FRAME_BYTES } from '../protocol/frame.js'
import { PROTOCOL_MAJOR, PROTOCOL_MINOR } from '../protocol/frame.js'
import { decodeHello, decodeMessage, encodeHello, encodeMessage, versionText, type MeshMessage, type OutMessage } from '../protocol/messages.js'
import { silentLogger, type Logger } from '../protocol/ports.js'
import type { Roster } from '../protocol/roster.js'
import type { NodeIdentity } from './identity.js'
import { clusterTopic } from './topic.js'

export interface SwarmTransportOptions {
  selfId: string
  identity: NodeIdentity
  roster: Roster
  clusterId: string
  /** Private DHT bootstrap nodes. Must be non-empty: we never fall back to the public list. */
  bootstrap: { host: string; port: number }[]
  /** Address the DHT binds and announces (the provisioning LAN address; 127.0.0.1 on loopback). */
  host?: string
  /**
   * Connections the transport itself opens from discovery until it has this many. Only a
   * seed: once a node knows members, the mesh (MeshNode) grows the overlay to its target.
   * 3: enough that nodes joining together form one connected graph.
   */
  seedDegree: number
  /** Hard cap on connections, inbound included. */
  maxDegree: number
  /** Bad frames after which a peer is disconnected. */
  maxBadFramesPerPeer: number
  maxFrameBytes?: number
  /** Topic lookups while under-connected. 1 s: cheap on a private DHT, and joins are found within it. */
  discoveryIntervalMs?: number
  /** Topic lookups once connected enough. 30 s: a backstop only; membership is the mesh's job. */
  discoveryIdleIntervalMs?: number
  /** A dial with no connection after this long is given up and reported as `disconnected`. 8 s. */
  dialTimeoutMs?: number
  /**
   * Hold-off before dialling a greater key: random in [h/2, h]. 600 ms: a peer that dials us
   * meanwhile reaches our firewall within a LAN round trip or two, and we then leave it be.
   */
  greaterKeyHoldOffMs?: number
  /**
   * A new link that has received nothing for this long is closed (and reported). The mesh
   * speaks first on every link (anti-entropy), so silence means the link is dead — e.g. two
   * peers dialled each other at once and each kept a different half. 0 turns it off. 10 s.
   */
  silentLinkMs?: number
  /**
   * The version this transport announces in its hello and holds peers to (same major).
   * Default this build's (PROTOCOL_MAJOR.PROTOCOL_MINOR). Only tests set it: the "next
   * minor" emulation (agent/main.ts, docs/mesh.md) and the major-mismatch test.
   */
  protocolVersion?: { major: number; minor: number }
  logger?: Logger
}

export interface TransportStats {
  connections: number
  inbound: number
  outbound: number
  discovered: number
  dials: number
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
  /** Frames and bytes sent, by message type (where the bytes go). */
  out: Record<string, { frames: number; bytes: number }>
  /** Frames and bytes received and decoded, by message type. */
  in: Record<string, { frames: number; bytes: number }>
  /** hyperswarm's own connection counts (client attempted/opened/closed, server opened/closed). */
  readonly swarmConnects?: unknown
}

export interface TransportEvents {
  connected: [peer: string]
  disconnected: [peer: string]
  message: [peer: string, msg: MeshMessage, bytes: number]
  'bad-frame': [peer: string, reason: DropReason, detail: string]
  /** A connection attempt was refused: a key not on the roster, the inbound cap, or a peer of another major version. */
  rejected: [key: string, reason: 'not-on-roster' | 'inbound-cap' | 'protocol-version']
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
}

export class SwarmTransport extends EventEmitter<TransportEvents> {
  private swarm: Hyperswarm | undefined
  private readonly links = new Map<string, Link>()
  /** Dials in flight: peer id -> give-up timer. */
  private readonly dialing = new Map<string, NodeJS.Timeout>()
  /** Held-off dials toward greater keys. */
  private readonly holdOffs = new Map<string, NodeJS.Timeout>()
  private readonly capRejected = new Set<string>()
  /** Peers whose handshake reached our firewall: they are dialling us, so we hold back. */
  private readonly inboundAttempts = new Map<string, number>()
  /** Peers the mesh asked for: only those get a `disconnected` when a dial fails. */
  private readonly requested = new Set<string>()
  private readonly discovered = new Set<string>()
  /** Peer ids whose version was refused, with the version: one log line each. */
  private readonly versionRefusals = new Map<string, string>()
  /** Peers whose newer minor version has been logged. */
  private readonly minorLogged = new Set<string>()
  private discoveryTimer: NodeJS.Timeout | undefined
  private discovering = false
  private started = false
  private closed = false
  private readonly topic: Buffer
  private readonly log: Logger
  private readonly selfKey: string
  private readonly version: { major: number; minor: number }
  readonly stats: TransportStats = {
    connections: 0,
    inbound: 0,
    outbound: 0,
    discovered: 0,
    dials: 0,
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
    out: {},
    in: {},
  }

  constructor(private readonly opts: SwarmTransportOptions) {
    super()
    if (opts.bootstrap.length === 0) throw new Error('SwarmTransport needs at least one private bootstrap node')
    this.topic = clusterTopic(opts.clusterId)
    this.log = opts.logger ?? silentLogger
    this.selfKey = opts.identity.publicKey
    this.version = opts.protocolVersion ?? { major: PROTOCOL_MAJOR, minor: PROTOCOL_MINOR }
  }

  /** Joins the private DHT and the cluster topic. Idempotent. */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    // A node bound to an address is reachable there: say so. A private DHT of a few nodes
    // never confirms it by itself, so every node stayed "firewalled" and hyperdht
    // holepunched — which between two LAN addresses opens the dialler's half only: it
    // writes into the void and the other side never sees a connection (seen between QEMU
    // workers on one provisioning LAN; the same on one host with two addresses). On loopback the punch raced hyperdht's same-host
    // shortcut, cost ~20% more CPU per connection, and under load left links that stayed
    // silent on both ends; declared reachable, the dialler connects straight to the address.
    const direct = this.opts.host !== undefined
    const dht = new DHT({ bootstrap: this.opts.bootstrap, ...(this.opts.host ? { host: this.opts.host } : {}), ...(direct ? { firewalled: false } : {}) })
    const swarm = new Hyperswarm({
      keyPair: this.opts.identity.keyPair,
      dht,
      maxPeers: this.opts.maxDegree,
      // hyperswarm dials 3 peers at a time by default; a joining node wants its whole degree at once.
      maxParallel: this.opts.maxDegree,
      firewall: (key, payload) => this.firewall(key, payload),
    })
    this.swarm = swarm
    Object.defineProperty(this.stats, 'swarmConnects', { enumerable: true, get: () => swarm.stats.connects })
    swarm.on('connection', (conn, info) => this.onConnection(conn, info))
    swarm.on('ban', (info) => {
      // A cap refusal is not a verdict on the peer: let it in once there is room.
      const hex = info.publicKey.toString('hex')
      if (this.capRejected.delete(hex)) info.ban(false)
    })
    // Listen, announce and look up at once: each is several DHT round trips, and on a busy
    // machine every round trip waits for two processes to be scheduled. Our first lookup
    // does not need our own announcement to have landed.
    const listening = swarm.listen()
    // Announce only: we look the topic up and choose whom to dial ourselves.
    const discovery = swarm.join(this.topic, { server: true, client: false })
    this.scheduleDiscovery(0)
    await listening
    await discovery.flushed()
  }

  /** Peer ids with an open connection (their hello arrived with our major version). */
  peers(): string[] {
    return [...this.links].filter(([, l]) => l.announced).map(([id]) => id)
  }

  isConnected(peer: string): boolean {
    return this.links.get(peer)?.announced === true
  }

  /**
   * Asks for a connection to `peer`. Answered later by `connected` or, if it cannot be
   * made, `disconnected`.
   */
  connect(peer: string): void {
    if (this.closed || !this.swarm || peer === this.opts.selfId) return
    if (this.links.has(peer) || this.dialing.has(peer) || this.holdOffs.has(peer)) return
    const key = this.opts.roster.keyOf(peer)
    if (!key) {
      queueMicrotask(() => this.emit('disconnected', peer))
      return
    }
    this.requested.add(peer)
    this.reach(peer, key)
  }

  /** Dials at once toward a smaller key; toward a greater one after a hold-off, unless it dials us first. */
  private reach(peer: string, key: string): void {
    if (key < this.selfKey) return this.dial(peer, key)
    const h = this.opts.greaterKeyHoldOffMs ?? 600
    const holdOff = h / 2 + (Math.random() * h) / 2
    const askedAt = Date.now()
    this.holdOffs.set(
      peer,
      setTimeout(() => {
        this.holdOffs.delete(peer)
        if (this.closed || this.links.has(peer) || (this.inboundAttempts.get(peer) ?? 0) >= askedAt - 1000) {
          this.requested.delete(peer)
          return
        }
        this.dial(peer, key)
      }, holdOff),
    )
  }

  disconnect(peer: string, reason: string): void {
    this.cancelDial(peer)
    const link = this.links.get(peer)
    if (!link) return
    this.log.debug({ component: 'mesh.transport', node: this.opts.selfId, peer, reason }, 'disconnecting peer')
    link.conn.destroy()
  }

  /** Sends one message; false if there is no connection to `peer`. */
  send(peer: string, msg: OutMessage): boolean {
    const link = this.links.get(peer)
    if (!link) return false
    let body: Uint8Array
    try {
      body = encodeMessage(msg)
    } catch (err) {
      this.log.error({ component: 'mesh.transport', node: this.opts.selfId, peer, type: msg.t, err }, 'cannot encode outgoing message')
      return false
    }
    return this.writeFrame(link, body, msg.t)
  }

  /**
   * Sends one message body this build's codec does not define (a newer minor's message
   * type). Only the "next minor" emulation of the mixed-version tests uses it (agent/main.ts).
   */
  sendBody(peer: string, body: Uint8Array, type: string): boolean {
    const link = this.links.get(peer)
    return link?.hello !== undefined && this.writeFrame(link, body, type)
  }

  private writeFrame(link: Link, body: Uint8Array, type: string): boolean {
    let frame: Uint8Array
    try {
      frame = encodeFrame(body, this.opts.maxFrameBytes ?? MAX_FRAME_BYTES)
    } catch (err) {
      this.log.error({ component: 'mesh.transport', node: this.opts.selfId, type, err }, 'cannot frame outgoing message')
      return false
    }
    this.stats.framesOut++
    link.framesOut++
    this.stats.bytesOut += frame.length
    const byType = (this.stats.out[type] ??= { frames: 0, bytes: 0 })
    byType.frames++
    byType.bytes += frame.length
    link.conn.write(frame)
    return true
  }

  /** Writes raw bytes to a peer, bypassing the codec. For tests of the receiving edge only. */
  sendRaw(peer: string, bytes: Uint8Array): boolean {
    const link = this.links.get(peer)
    if (!link) return false
    link.conn.write(bytes)
    return true
  }

  /** Leaves the topic and closes every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.discoveryTimer) clearTimeout(this.discoveryTimer)
    for (const t of this.dialing.values()) clearTimeout(t)
    for (const t of this.holdOffs.values()) clearTimeout(t)
    this.dialing.clear()
    this.holdOffs.clear()
    const swarm = this.swarm
    if (!swarm) return
    for (const link of this.links.values()) link.conn.destroy()
    await swarm.destroy().catch(() => swarm.destroy({ force: true }))
  }

  // -- inbound -------------------------------------------------------------------------

  /** hyperswarm's contract: return true to refuse. `payload` is null for our own dials. */
  private firewall(remoteKey: Buffer, payload: unknown): boolean {
    const hex = remoteKey.toString('hex')
    const id = this.opts.roster.idOf(hex)
    if (id === undefined) {
      this.stats.rejected.notOnRoster++
      this.log.warn({ component: 'mesh.transport', node: this.opts.selfId, key: hex }, 'refused a key that is not on the roster')
      this.emit('rejected', hex, 'not-on-roster')
      return true
    }
    if (payload !== null) this.inboundAttempts.set(id, Date.now())
    if (payload !== null && !this.links.has(id) && this.links.size >= this.opts.maxDegree) {
      this.stats.rejected.inboundCap++
      this.capRejected.add(hex)
      this.emit('rejected', hex, 'inbound-cap')
      return true
    }
    return false
  }

  private onConnection(conn: NoiseSecretStream, info: PeerInfo): void {
    const hex = conn.remotePublicKey.toString('hex')
    const peer = this.opts.roster.idOf(hex)
    conn.on('error', () => {}) // closes follow errors; the close handler does the bookkeeping
    if (peer === undefined || this.closed) {
      conn.destroy()
      return
    }
    const previous = this.links.get(peer)
    if (!previous && !conn.isInitiator && this.links.size >= this.opts.maxDegree) {
      // Several handshakes can pass the firewall's cap check at once; the cap is hard.
      this.stats.rejected.inboundCap++
      conn.destroy()
      return
    }
    this.cancelDial(peer)
    this.requested.delete(peer)
    // Connections are ours to manage: no silent reconnects behind the mesh's back.
    if (info.explicit) this.swarm?.leavePeer(conn.remotePublicKey)
    const link: Link = {
      conn,
      decoder: new FrameDecoder(this.opts.maxFrameBytes ?? MAX_FRAME_BYTES),
      badFrames: 0,
      inbound: !conn.isInitiator,
      heard: false,
      framesOut: 0,
      hello: undefined,
      announced: previous?.announced ?? false,
    }
    this.links.set(peer, link)
    // Our version first, before anything else we may send on this link.
    this.writeFrame(link, encodeHello(this.version.minor, this.version.major), 'hello')
    this.inboundAttempts.delete(peer)
    const silentMs = this.opts.silentLinkMs ?? 10_000
    if (silentMs > 0) {
      const t = setTimeout(() => {
        if (link.heard || this.links.get(peer) !== link) return
        this.stats.silentLinksClosed++
        // What the raw (UDX) stream saw tells a dead path (nothing read) from a peer that said nothing.
        const raw = conn as unknown as { rawBytesRead?: number; rawBytesWritten?: number; rawStream?: { remoteHost?: string; remotePort?: number; connected?: boolean } }
        this.log.warn(
          {
            component: 'mesh.transport',
            node: this.opts.selfId,
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
    conn.on('data', (chunk: Buffer) => this.onData(peer, link, chunk))
    conn.on('close', () => {
      if (this.links.get(peer) !== link) return
      this.links.delete(peer)
      this.countLinks()
      this.log.debug({ component: 'mesh.transport', node: this.opts.selfId, peer }, 'connection closed')
      this.emit('disconnected', peer)
      if (!this.closed && this.links.size < this.opts.seedDegree) this.scheduleDiscovery(this.discoveryIntervalMs())
    })
    this.countLinks()
    // hyperswarm replaced a stale connection to the same key: same peer, no membership change.
    if (previous) previous.conn.destroy()
    // `connected` waits for the peer's hello (onData).
  }

  /** The peer's first frame: its hello. Our major (any minor) opens the link; anything else closes it. */
  private onHello(peer: string, link: Link, body: Uint8Array): void {
    const hello = decodeHello(body)
    const ours = versionText(this.version.major, this.version.minor)
    if (!hello.ok || hello.major !== this.version.major) {
      const theirs = hello.ok ? versionText(hello.major, hello.minor) : `unknown (${hello.detail})`
      this.stats.refusedVersion++
      if (this.versionRefusals.get(peer) !== theirs) {
        this.versionRefusals.set(peer, theirs)
        this.log.warn(
          { component: 'mesh.transport', node: this.opts.selfId, peer, ours, theirs },
          `refusing peer ${peer}: it speaks mesh protocol ${theirs}, this agent speaks ${ours}; a major version change needs the bridge release (docs/mesh.md, "Versions on the wire")`,
        )
      }
      this.emit('rejected', link.conn.remotePublicKey.toString('hex'), 'protocol-version')
      link.conn.destroy()
      return
    }
    link.hello = { major: hello.major, minor: hello.minor }
    const version = versionText(hello.major, hello.minor)
    this.stats.helloVersions[version] = (this.stats.helloVersions[version] ?? 0) + 1
    this.versionRefusals.delete(peer)
    if (hello.minor !== this.version.minor && !this.minorLogged.has(peer)) {
      this.minorLogged.add(peer)
      this.log.info({ component: 'mesh.transport', node: this.opts.selfId, peer, ours, theirs: version }, 'peer speaks another minor version: fields and message types one side does not know are kept and ignored')
    }
    if (link.announced) return
    link.announced = true
    this.log.debug({ component: 'mesh.transport', node: this.opts.selfId, peer, inbound: link.inbound, version }, 'connected')
    this.emit('connected', peer)
  }

  private onData(peer: string, link: Link, chunk: Buffer): void {
    if (this.links.get(peer) !== link) return
    link.heard = true
    this.stats.bytesIn += chunk.length
    const bodies = link.decoder.push(chunk)
    for (const body of bodies) {
      this.stats.framesIn++
      if (!link.hello) {
        this.onHello(peer, link, body)
        if (this.links.get(peer) !== link || !link.hello) return
        continue
      }
      const decoded = decodeMessage(body)
      if (decoded.ok) {
        for (const type of decoded.ignored ?? []) this.ignoreType(peer, type)
        const byType = (this.stats.in[decoded.msg.t] ??= { frames: 0, bytes: 0 })
        byType.frames++
        byType.bytes += body.length + 4
        this.emit('message', peer, decoded.msg, body.length + 4)
      } else if (decoded.reason === DropReason.unknownType) this.ignoreType(peer, decoded.detail)
      else this.badFrame(peer, link, decoded.reason, decoded.detail)
      if (this.links.get(peer) !== link) return
    }
    if (link.decoder.tooLarge) {
      this.badFrame(peer, link, DropReason.frameTooLarge, `length prefix over ${this.opts.maxFrameBytes ?? MAX_FRAME_BYTES} bytes`)
      // The stream position is lost: nothing after this can be framed.
      this.dropPeer(peer, link, 'oversized frame')
    }
  }

  /** A newer minor's message type: counted by type, reported to the mesh (which counts it too), never held against the peer. */
  private ignoreType(peer: string, type: string): void {
    const byType = this.stats.ignoredTypes
    const key = type in byType || Object.keys(byType).length < 64 ? type : 'other'
    byType[key] = (byType[key] ?? 0) + 1
    this.emit('bad-frame', peer, DropReason.unknownType, type)
  }

  private badFrame(peer: string, link: Link, reason: DropReason, detail: string): void {
    link.badFrames++
    this.emit('bad-frame', peer, reason, detail)
    if (link.badFrames >= this.opts.maxBadFramesPerPeer) this.dropPeer(peer, link, `${link.badFrames} bad frames`)
  }

  private dropPeer(peer: string, link: Link, why: string): void {
    if (this.links.get(peer) !== link) return
    this.stats.disconnectedForBadFrames++
    this.log.warn({ component: 'mesh.transport', node: this.opts.selfId, peer, why }, 'disconnecting a misbehaving peer')
    link.conn.destroy()
  }

  private countLinks(): void {
    let inbound = 0
    for (const l of this.links.values()) if (l.inbound) inbound++
    this.stats.connections = this.links.size
    this.stats.inbound = inbound
    this.stats.outbound = this.links.size - inbound
  }

  // -- outbound ------------------------------------------------------------------------

  private dial(peer: string, key: string): void {
    if (!this.swarm || this.closed) return
    this.stats.dials++
    this.log.debug({ component: 'mesh.transport', node: this.opts.selfId, peer }, 'dialling')
    const buf = Buffer.from(key, 'hex')
    this.swarm.joinPeer(buf)
    this.dialing.set(
      peer,
      setTimeout(() => {
        this.dialing.delete(peer)
        this.swarm?.leavePeer(buf)
        if (!this.links.has(peer) && this.requested.delete(peer)) this.emit('disconnected', peer)
      }, this.opts.dialTimeoutMs ?? 8000),
    )
  }

  private cancelDial(peer: string): void {
    const t = this.dialing.get(peer)
    if (t) {
      clearTimeout(t)
      this.dialing.delete(peer)
    }
    const h = this.holdOffs.get(peer)
    if (h) {
      clearTimeout(h)
      this.holdOffs.delete(peer)
    }
  }

  // -- discovery -----------------------------------------------------------------------

  private discoveryIntervalMs(): number {
    return this.opts.discoveryIntervalMs ?? 1000
  }

  private scheduleDiscovery(delayMs: number): void {
    if (this.closed) return
    if (this.discoveryTimer) clearTimeout(this.discoveryTimer)
    this.discoveryTimer = setTimeout(() => void this.discover(), delayMs)
    this.discoveryTimer.unref?.()
  }

  private async discover(): Promise<void> {
    if (this.closed || !this.swarm || this.discovering) return
    this.discovering = true
    try {
      const stream = this.swarm.dht.lookup(this.topic)
      for await (const reply of stream) {
        for (const p of reply.peers) {
          const hex = p.publicKey.toString('hex')
          if (hex === this.selfKey || !this.opts.roster.idOf(hex)) continue
          if (!this.discovered.has(hex)) {
            this.discovered.add(hex)
            this.stats.discovered = this.discovered.size
          }
        }
        if (this.closed) break
      }
    } catch (err) {
      if (!this.closed) this.log.debug({ component: 'mesh.transport', node: this.opts.selfId, err: (err as Error).message }, 'topic lookup failed')
    } finally {
      this.discovering = false
    }
    if (this.closed) return
    this.log.debug({ component: 'mesh.transport', node: this.opts.selfId, discovered: this.discovered.size, links: this.links.size }, 'topic lookup done')
    this.topUp()
    const under = this.links.size < this.opts.seedDegree
    this.scheduleDiscovery(under ? this.discoveryIntervalMs() : (this.opts.discoveryIdleIntervalMs ?? 30_000))
  }

  /** Dials discovered peers (smaller keys first) until the seed degree is in reach. */
  private topUp(): void {
    const want = this.opts.seedDegree - this.links.size - this.dialing.size - this.holdOffs.size
    if (want <= 0) return
    const greater: [string, string][] = []
    const smaller: [string, string][] = []
    for (const hex of this.discovered) {
      const id = this.opts.roster.idOf(hex)
      if (!id || this.links.has(id) || this.dialing.has(id) || this.holdOffs.has(id)) continue
      ;(hex > this.selfKey ? greater : smaller).push([id, hex])
    }
    shuffle(greater)
    shuffle(smaller)
    // Smaller keys first (no race possible); greater ones too when there are not enough,
    // or a node whose key is below every peer it found would wait for others to find it.
    for (const [id, hex] of [...smaller, ...greater].slice(0, want)) this.reach(id, hex)
  }
}

function shuffle<T>(a: T[]): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
}
