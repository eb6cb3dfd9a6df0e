/**
 * Dialling a peer at an address we already know. hyperdht finds a server by a findPeer
 * query over the DHT and passes the Noise handshake through a DHT node that holds the
 * server's announcement (in a private DHT, the bootstrap node): a query, then a relayed
 * round trip, before the connection itself. A server bound to an address it declared
 * reachable answers a handshake sent straight to it (hyperdht's router: a server is its
 * own relay), so when a peer's record names its mesh socket (`mesh` in the node record),
 * the handshake goes there, and the lookup waits: it runs only if that attempt has not
 * connected within `lookupAfterMs` (a stale or wrong address then costs a delay, not the
 * link). hyperswarm still makes the connections (its per-key bookkeeping stays): the
 * address goes in where it calls `dht.connect`.
 */
import DHT, { type DHTOptions, type HostPort, type KeyPair, type NoiseSecretStream } from 'hyperdht'

type ConnectOptions = { relayAddresses?: HostPort[] | null; keyPair?: KeyPair; [k: string]: unknown }

export interface DirectDHTOptions extends DHTOptions {
  /** A direct dial not connected after this long falls back to hyperdht's lookup. 1.5 s: many LAN round trips, and under a second of waiting seen on a loaded 2-core host. */
  lookupAfterMs?: number
  /** Addresses remembered (the oldest forgotten first). 16384: a cluster's worth. */
  maxAddresses?: number
}

export class DirectDHT extends DHT {
  /** Known mesh addresses, by public key (hex). */
  private readonly direct = new Map<string, HostPort>()
  /** The relay lists of direct dials in flight -> settles when that dial opens, closes, or waits too long. */
  private readonly pending = new WeakMap<HostPort[], Promise<void>>()
  private readonly lookupAfterMs: number
  private readonly maxAddresses: number
  /** Dials sent straight to a known address (the transport stats' `directDials`). */
  directDials = 0
  /** Of those, dials that fell back to a lookup (not connected within `lookupAfterMs`). */
  directFallbacks = 0

  constructor(opts: DirectDHTOptions) {
    const { lookupAfterMs = 1500, maxAddresses = 16_384, ...dhtOpts } = opts
    super(dhtOpts)
    this.lookupAfterMs = lookupAfterMs
    this.maxAddresses = maxAddresses
  }

  /** Remembers where `keyHex`'s server listens (replacing what we knew). */
  setAddress(keyHex: string, address: HostPort): void {
    this.direct.delete(keyHex)
    if (this.direct.size >= this.maxAddresses) this.direct.delete(this.direct.keys().next().value!)
    this.direct.set(keyHex, address)
  }

  forgetAddress(keyHex: string): void {
    this.direct.delete(keyHex)
  }

  override connect(publicKey: Buffer, opts: ConnectOptions = {}): NoiseSecretStream {
    const known = opts.relayAddresses?.length ? undefined : this.direct.get(publicKey.toString('hex'))
    if (!known) return super.connect(publicKey, opts)
    this.directDials++
    const relayAddresses = [known]
    let settle!: () => void
    this.pending.set(relayAddresses, new Promise<void>((resolve) => (settle = resolve)))
    const stream = super.connect(publicKey, { ...opts, relayAddresses })
    const timer = setTimeout(() => {
      this.directFallbacks++
      settle()
    }, this.lookupAfterMs)
    timer.unref?.()
    const done = () => {
      clearTimeout(timer)
      settle()
    }
    stream.once('open', done)
    stream.once('close', done)
    return stream
  }

  /**
   * hyperdht's connect starts a findPeer query beside the relays it was given, seeded with
   * them. For a direct dial the query waits for that dial instead, and yields nothing:
   * connected by then, hyperdht stops; not, it queries again without the seed (the lookup).
   */
  override findPeer(publicKey: Buffer, opts: { nodes?: HostPort[] | null; [k: string]: unknown } = {}): AsyncIterable<unknown> & { destroy(): void } {
    const waiting = opts.nodes ? this.pending.get(opts.nodes) : undefined
    if (!waiting) return super.findPeer(publicKey, opts)
    let destroyed!: () => void
    const gone = new Promise<void>((resolve) => (destroyed = resolve))
    return {
      destroy: () => destroyed(),
      async *[Symbol.asyncIterator]() {
        await Promise.race([waiting, gone])
      },
    }
  }
}

/**
 * "host:port" as a record carries it, for a direct dial: an IPv4 address and a port, or
 * undefined (another form is not dialled straight; the lookup still finds the peer).
 */
export function parseMeshAddress(s: string | undefined): HostPort | undefined {
  if (!s) return undefined
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(s)
  if (!m) return undefined
  const port = Number(m[2])
  if (port < 1 || port > 65535 || m[1] === '0.0.0.0' || m[1]!.split('.').some((o) => Number(o) > 255)) return undefined
  return { host: m[1]!, port }
}
