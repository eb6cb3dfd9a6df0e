/** Minimal local typing for protomux 3 (no types ship with it). */
declare module 'protomux' {
  import type { Duplex } from 'node:stream'
  export interface Channel {
    open(handshake?: unknown): void
    close(): void
    addMessage(opts: { encoding?: unknown; onmessage?: (msg: unknown) => void }): { send(msg: unknown): boolean }
  }
  export default class Protomux {
    constructor(stream: Duplex)
    static from(stream: Duplex): Protomux
    createChannel(opts: { protocol: string; id?: Uint8Array; onopen?: () => void; onclose?: () => void }): Channel | null
  }
}
