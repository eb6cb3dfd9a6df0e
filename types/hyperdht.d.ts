/** Minimal local typing for hyperdht 6 (no types ship with it). Only what agent/mesh uses. */
declare module 'hyperdht' {
  import { EventEmitter } from 'node:events'
  import type { Duplex } from 'node:stream'

  export interface KeyPair {
    publicKey: Buffer
    secretKey: Buffer
  }
  export interface HostPort {
    host: string
    port: number
  }
  export interface DHTOptions {
    bootstrap?: (string | HostPort)[]
    host?: string
    port?: number
    ephemeral?: boolean
    firewalled?: boolean
    connectionKeepAlive?: number | false
  }
  export interface LookupReply {
    from: HostPort
    peers: { publicKey: Buffer; relayAddresses?: HostPort[] }[]
  }
  /** A Noise-encrypted stream to one peer. */
  export interface NoiseSecretStream extends Duplex {
    readonly publicKey: Buffer
    readonly remotePublicKey: Buffer
    readonly isInitiator: boolean
    readonly rawStream?: { remoteHost?: string; remotePort?: number }
    setKeepAlive(ms: number): void
  }
  export default class DHT extends EventEmitter {
    constructor(opts?: DHTOptions)
    static keyPair(seed?: Uint8Array): KeyPair
    static bootstrapper(port: number, host: string, opts?: DHTOptions): DHT
    ready(): Promise<void>
    /** Binds the UDP sockets (no bootstrap wait). */
    bind(): Promise<void>
    /**
     * Connects to a server. `relayAddresses`: DHT nodes that can pass the handshake on —
     * or the server's own address, which answers it itself; a findPeer query (seeded with
     * them) runs beside.
     */
    connect(publicKey: Buffer, opts?: { relayAddresses?: HostPort[] | null; keyPair?: KeyPair; [k: string]: unknown }): NoiseSecretStream
    fullyBootstrapped(): Promise<void>
    address(): HostPort & { family?: number }
    /** The query connect() runs to find a server's relays (`nodes`: where to start). */
    findPeer(publicKey: Uint8Array, opts?: { nodes?: HostPort[] | null; [k: string]: unknown }): AsyncIterable<unknown> & { destroy(): void }
    lookup(target: Uint8Array, opts?: object): AsyncIterable<LookupReply> & { destroy(): void }
    announce(target: Uint8Array, keyPair: KeyPair, relayAddresses?: HostPort[], opts?: object): { finished(): Promise<void>; destroy(): void }
    destroy(opts?: { force?: boolean }): Promise<void>
    readonly destroyed: boolean
  }
}
