/**
 * The hyperswarm transport: the only place the mesh touches hyperswarm/hyperdht. It
 * composes four parts, as hyperswarm itself splits them:
 * - admission.ts — who may connect (the roster, the inbound cap);
 * - dial-policy.ts — whom we dial, when (the key-order rule and its hold-off), when we give up;
 * - peer-discovery.ts — announcing on and looking up the cluster topic, seeding the first links;
 * - link-set.ts — the open links: framing, the version hello, bad input, silent links.
 *
 * Private DHT: every node gets its own `new DHT({ bootstrap, host })` with the bootstrap
 * list from config (never the public one; a shared/default DHT gives one-sided
 * connections on small networks).
 */
import { EventEmitter } from 'node:events'
import type { NoiseSecretStream } from 'hyperdht'
import Hyperswarm, { type PeerInfo } from 'hyperswarm'
import { MAX_FRAME_BYTES, PROTOCOL_MAJOR, PROTOCOL_MINOR } from '../protocol/frame.js'
import type { OutMessage } from '../protocol/messages.js'
import { silentLogger, type Logger, type Rng } from '../protocol/ports.js'
import type { Roster } from '../protocol/roster.js'
import { Admission } from './admission.js'
import { DialPolicy } from './dial-policy.js'
import { DirectDHT, parseMeshAddress } from './direct-dht.js'
import type { NodeIdentity } from './identity.js'
import { LinkSet } from './link-set.js'
import { PeerDiscovery } from './peer-discovery.js'
import { systemRng } from './system-rng.js'
import { clusterTopic } from './topic.js'
import { newTransportStats, type EmitTransportEvent, type TransportEvents, type TransportStats } from './transport-stats.js'

export type { TransportEvents, TransportStats } from './transport-stats.js'

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
  /**
   * The overlay's target degree: a dial the mesh asks for only to grow toward it
   * (`connect(..., grow)`) is let go when its hold-off ends with this many links up
   * (dial-policy.ts). Default maxDegree: every such dial goes.
   */
  targetDegree?: number
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
  /** Randomness for the dial hold-off and the order discovered peers are dialled in. Default node:crypto's (systemRng). */
  rng?: Rng
  logger?: Logger
}

export class SwarmTransport extends EventEmitter<TransportEvents> {
  private swarm: Hyperswarm | undefined
  private dht: DirectDHT | undefined
  private bound: Promise<string | undefined> | undefined
  private started = false
  private closed = false
  private readonly topic: Buffer
  private readonly selfKey: string
  private readonly links: LinkSet
  private readonly admission: Admission
  private readonly dials: DialPolicy
  private readonly discovery: PeerDiscovery
  readonly stats: TransportStats = newTransportStats()

  constructor(private readonly opts: SwarmTransportOptions) {
    super()
    if (opts.bootstrap.length === 0) throw new Error('SwarmTransport needs at least one private bootstrap node')
    this.topic = clusterTopic(opts.clusterId)
    this.selfKey = opts.identity.publicKey
    const log = opts.logger ?? silentLogger
    const rng = opts.rng ?? systemRng
    const untypedEmit = this.emit.bind(this) as (event: string, ...args: unknown[]) => boolean
    const emit: EmitTransportEvent = (event, ...args) => void untypedEmit(event, ...args)
    const { selfId, roster } = opts
    const stats = this.stats
    this.links = new LinkSet(
      {
        selfId,
        maxFrameBytes: opts.maxFrameBytes ?? MAX_FRAME_BYTES,
        maxBadFramesPerPeer: opts.maxBadFramesPerPeer,
        silentLinkMs: opts.silentLinkMs ?? 10_000,
        version: opts.protocolVersion ?? { major: PROTOCOL_MAJOR, minor: PROTOCOL_MINOR },
        stats,
        log,
        emit,
      },
      () => this.discovery.linkLost(),
    )
    this.admission = new Admission({ selfId, roster, maxDegree: opts.maxDegree, stats, log, emit, links: this.links })
    this.dials = new DialPolicy({
      selfId,
      selfKey: this.selfKey,
      greaterKeyHoldOffMs: opts.greaterKeyHoldOffMs ?? 600,
      dialTimeoutMs: opts.dialTimeoutMs ?? 8000,
      rng,
      stats,
      log,
      emit,
      linked: (peer) => this.links.has(peer),
      lastInboundAttempt: (peer) => this.admission.lastInboundAttempt(peer),
    })
    this.discovery = new PeerDiscovery({
      selfId,
      selfKey: this.selfKey,
      topic: this.topic,
      roster,
      seedDegree: opts.seedDegree,
      intervalMs: opts.discoveryIntervalMs ?? 1000,
      idleIntervalMs: opts.discoveryIdleIntervalMs ?? 30_000,
      rng,
      stats,
      log,
      links: this.links,
      dials: this.dials,
    })
  }

  /**
   * Binds the mesh socket (the DHT node's; no DHT traffic yet) and says where peers can dial
   * it straight: "host:port" when the transport has an address of its own (`host`), else
   * undefined. The agent publishes it in its record (`mesh`) before it joins. Idempotent.
   */
  bind(): Promise<string | undefined> {
    this.bound ??= (async () => {
      const dht = this.setUp()
      await dht.bind()
      const host = this.opts.host
      const port = dht.address()?.port
      return host && port && parseMeshAddress(`${host}:${port}`) ? `${host}:${port}` : undefined
    })()
    return this.bound
  }

  /** Joins the private DHT and the cluster topic. Idempotent. */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    this.setUp()
    const swarm = this.swarm!
    // Listen, announce and look up at once: each is several DHT round trips, and on a busy
    // machine every round trip waits for two processes to be scheduled. Our first lookup
    // does not need our own announcement to have landed.
    const listening = swarm.listen()
    // Announce only: we look the topic up and choose whom to dial ourselves.
    const announced = swarm.join(this.topic, { server: true, client: false })
    this.discovery.start(swarm)
    await listening
    await announced.flushed()
  }

  private setUp(): DirectDHT {
    if (this.dht) return this.dht
    // A node bound to an address is reachable there: say so. A private DHT of a few nodes
    // never confirms it by itself, so every node stayed "firewalled" and hyperdht
    // holepunched — which between two LAN addresses opens the dialler's half only: it
    // writes into the void and the other side never sees a connection (seen between QEMU
    // workers on one provisioning LAN; the same on one host with two addresses). On
    // loopback the punch raced hyperdht's same-host
    // shortcut, cost ~20% more CPU per connection, and under load left links that stayed
    // silent on both ends; declared reachable, the dialler connects straight to the address.
    const direct = this.opts.host !== undefined
    const dht = new DirectDHT({ bootstrap: this.opts.bootstrap, ...(this.opts.host ? { host: this.opts.host } : {}), ...(direct ? { firewalled: false } : {}) })
    const swarm = new Hyperswarm({
      keyPair: this.opts.identity.keyPair,
      dht,
      maxPeers: this.opts.maxDegree,
      // hyperswarm dials 3 peers at a time by default; a joining node wants its whole degree at once.
      maxParallel: this.opts.maxDegree,
      firewall: (key, payload) => this.admission.firewall(key, payload),
    })
    this.dht = dht
    this.swarm = swarm
    this.dials.attach(swarm)
    Object.defineProperty(this.stats, 'swarmConnects', { enumerable: true, get: () => swarm.stats.connects })
    Object.defineProperty(this.stats, 'directDials', { enumerable: true, get: () => dht.directDials })
    Object.defineProperty(this.stats, 'directFallbacks', { enumerable: true, get: () => dht.directFallbacks })
    swarm.on('connection', (conn, info) => this.onConnection(conn, info))
    swarm.on('ban', (info) => this.admission.onBan(info))
    return dht
  }

  /** Peer ids with an open connection (their hello arrived with our major version). */
  peers(): string[] {
    return this.links.peers()
  }

  isConnected(peer: string): boolean {
    return this.links.isConnected(peer)
  }

  /**
   * Asks for a connection to `peer`. Answered later by `connected` or, if it cannot be
   * made, `disconnected`. `address`: where its record says its mesh socket is ("host:port"):
   * the handshake goes there straight (a DHT lookup still runs beside it). `grow`: wanted
   * only toward the target degree; a held-off dial is let go (reported `disconnected`)
   * if that many links are up when its hold-off ends.
   */
  connect(peer: string, address?: string, grow?: boolean): void {
    if (this.closed || !this.swarm || peer === this.opts.selfId) return
    if (this.links.has(peer) || this.dials.busy(peer)) return
    const key = this.opts.roster.keyOf(peer)
    if (!key) {
      queueMicrotask(() => this.emit('disconnected', peer))
      return
    }
    const at = parseMeshAddress(address)
    if (at) this.dht?.setAddress(key, at)
    this.dials.request(peer, key, grow ? this.belowTarget : undefined)
  }

  private readonly belowTarget = (): boolean => this.links.size < (this.opts.targetDegree ?? this.opts.maxDegree)

  disconnect(peer: string, reason: string): void {
    this.dials.cancel(peer)
    this.links.disconnect(peer, reason)
  }

  /** Sends one message; false if there is no connection to `peer`. */
  send(peer: string, msg: OutMessage): boolean {
    return this.links.send(peer, msg)
  }

  /**
   * Sends one message body this build's codec does not define (a newer minor's message
   * type). Only the "next minor" emulation of the mixed-version tests uses it (agent/main.ts).
   */
  sendBody(peer: string, body: Uint8Array, type: string): boolean {
    return this.links.sendBody(peer, body, type)
  }

  /** Writes raw bytes to a peer, bypassing the codec. For tests of the receiving edge only. */
  sendRaw(peer: string, bytes: Uint8Array): boolean {
    return this.links.sendRaw(peer, bytes)
  }

  /** Leaves the topic and closes every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.discovery.close()
    this.dials.close()
    const swarm = this.swarm
    if (!swarm) return
    this.links.destroyAll()
    await swarm.destroy().catch(() => swarm.destroy({ force: true }))
  }

  private onConnection(conn: NoiseSecretStream, info: PeerInfo): void {
    const peer = this.opts.roster.idOf(conn.remotePublicKey.toString('hex'))
    conn.on('error', () => {}) // closes follow errors; the close handler does the bookkeeping
    if (peer === undefined || this.closed || !this.admission.admit(peer, !conn.isInitiator)) {
      conn.destroy()
      return
    }
    this.dials.connected(peer)
    // Connections are ours to manage: no silent reconnects behind the mesh's back.
    if (info.explicit) this.swarm?.leavePeer(conn.remotePublicKey)
    this.links.add(peer, conn)
  }
}
