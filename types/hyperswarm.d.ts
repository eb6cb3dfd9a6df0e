/** Minimal local typing for hyperswarm 4 (no types ship with it). Only what agent/mesh uses. */
declare module 'hyperswarm' {
  import { EventEmitter } from 'node:events'
  import type DHT from 'hyperdht'
  import type { KeyPair, NoiseSecretStream } from 'hyperdht'

  export interface PeerInfo {
    readonly publicKey: Buffer
    readonly client: boolean
    banned: boolean
    explicit: boolean
    ban(value: boolean): void
  }
  export interface SwarmOptions {
    keyPair?: KeyPair
    seed?: Uint8Array
    dht?: DHT
    bootstrap?: (string | { host: string; port: number })[]
    maxPeers?: number
    maxParallel?: number
    /** Return true to REJECT (and ban) the key; payload is null for our own outbound dials. */
    firewall?: (remotePublicKey: Buffer, payload: unknown) => boolean
  }
  export interface Discovery {
    flushed(): Promise<void>
    refresh(opts?: { server?: boolean; client?: boolean }): Promise<void>
    destroy(): Promise<void>
  }
  export default class Hyperswarm extends EventEmitter {
    constructor(opts?: SwarmOptions)
    readonly keyPair: KeyPair
    readonly dht: DHT
    readonly connections: Set<NoiseSecretStream>
    readonly peers: Map<string, PeerInfo>
    readonly destroyed: boolean
    readonly stats: { connects: { client: { opened: number; closed: number; attempted: number }; server: { opened: number; closed: number } } }
    listen(): Promise<void>
    join(topic: Uint8Array, opts?: { server?: boolean; client?: boolean }): Discovery
    leave(topic: Uint8Array): Promise<void>
    joinPeer(publicKey: Uint8Array): void
    leavePeer(publicKey: Uint8Array): void
    flush(): Promise<boolean>
    destroy(opts?: { force?: boolean }): Promise<void>
    on(event: 'connection', listener: (conn: NoiseSecretStream, info: PeerInfo) => void): this
    on(event: 'ban', listener: (info: PeerInfo, err: Error) => void): this
    on(event: 'update', listener: () => void): this
  }
}
