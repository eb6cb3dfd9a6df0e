import { EventEmitter } from 'node:events'
import type { NoiseSecretStream } from 'hyperdht'
import { describe, expect, it } from 'vitest'
import { encodeFrame, FrameDecoder } from '../protocol/frame.js'
import { decodeHello, decodeMessage, encodeHello, encodeMessage } from '../protocol/messages.js'
import { silentLogger } from '../protocol/ports.js'
import { LinkSet } from './link-set.js'
import { newTransportStats, type TransportEvents } from './transport-stats.js'

/** What LinkSet uses of a secret stream: write, destroy, data and close events. */
class FakeConn extends EventEmitter {
  readonly writes: Uint8Array[] = []
  destroyed = false
  readonly isInitiator = true
  readonly remotePublicKey = Buffer.alloc(32, 7)
  write(chunk: Uint8Array): boolean {
    if (this.destroyed) throw new Error('write after destroy')
    this.writes.push(chunk)
    return true
  }
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.emit('close')
  }
}

function linkSet() {
  const stats = newTransportStats()
  const events: [keyof TransportEvents, unknown[]][] = []
  const links = new LinkSet(
    {
      selfId: 'me',
      maxFrameBytes: 256 * 1024,
      maxBadFramesPerPeer: 5,
      silentLinkMs: 0,
      version: { major: 1, minor: 0 },
      stats,
      log: silentLogger,
      emit: (event, ...args) => void events.push([event, args]),
    },
    () => {},
  )
  return { links, stats, events }
}

/** The frames written to a fake connection, in order, however the writes were cut. */
function framesOf(conn: FakeConn): Uint8Array[] {
  const d = new FrameDecoder()
  return conn.writes.flatMap((w) => d.push(w))
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('LinkSet writes', () => {
  it('sends the frames queued for one peer in one turn as one write, hello first', async () => {
    const { links, stats } = linkSet()
    const conn = new FakeConn()
    links.add('p', conn as unknown as NoiseSecretStream)
    expect(links.send('p', { t: 'ping', seq: 1 })).toBe(true)
    expect(links.send('p', { t: 'prune' })).toBe(true)
    expect(conn.writes).toHaveLength(0) // nothing until the turn ends
    await turn()
    expect(conn.writes).toHaveLength(1)
    const [hello, ping, prune] = framesOf(conn)
    expect(decodeHello(hello!)).toMatchObject({ ok: true, major: 1, minor: 0 })
    expect(decodeMessage(ping!)).toMatchObject({ ok: true, msg: { t: 'ping', seq: 1 } })
    expect(decodeMessage(prune!)).toMatchObject({ ok: true, msg: { t: 'prune' } })
    expect(stats.framesOut).toBe(3)
    expect(stats.writesOut).toBe(1)
    // A later turn's frame is a write of its own.
    links.send('p', { t: 'ping', seq: 2 })
    await turn()
    expect(conn.writes).toHaveLength(2)
    expect(stats.writesOut).toBe(2)
  })

  it('writes what was queued before a disconnect, then closes', () => {
    const { links } = linkSet()
    const conn = new FakeConn()
    links.add('p', conn as unknown as NoiseSecretStream)
    links.send('p', { t: 'bye' })
    links.disconnect('p', 'overlay above maximum degree')
    expect(conn.destroyed).toBe(true)
    expect(framesOf(conn).slice(1).map((f) => decodeMessage(f))).toMatchObject([{ ok: true, msg: { t: 'bye' } }])
  })

  it('one message object sent to several peers (encoded once) reaches each with its bytes', async () => {
    const { links } = linkSet()
    const a = new FakeConn()
    const b = new FakeConn()
    links.add('a', a as unknown as NoiseSecretStream)
    links.add('b', b as unknown as NoiseSecretStream)
    const msg = { t: 'ping' as const, seq: 9 }
    links.send('a', msg)
    links.send('b', msg)
    await turn()
    expect(Buffer.from(framesOf(a)[1]!)).toEqual(Buffer.from(encodeMessage(msg)))
    expect(Buffer.from(framesOf(b)[1]!)).toEqual(Buffer.from(encodeMessage(msg)))
    // A new object with other content is encoded anew.
    links.send('a', { t: 'ping', seq: 10 })
    await turn()
    expect(decodeMessage(framesOf(a)[2]!)).toMatchObject({ ok: true, msg: { seq: 10 } })
  })

  it('reads several frames out of one chunk, as an older peer that writes each frame alone is read too', async () => {
    const { links, stats, events } = linkSet()
    const conn = new FakeConn()
    links.add('p', conn as unknown as NoiseSecretStream)
    const frames = [encodeHello(0, 1), encodeMessage({ t: 'ping', seq: 1 }), encodeMessage({ t: 'ack', seq: 1 })].map((b) => encodeFrame(b))
    conn.emit('data', Buffer.concat(frames))
    conn.emit('data', Buffer.from(encodeFrame(encodeMessage({ t: 'prune' }))))
    await turn()
    expect(events.map(([e, args]) => (e === 'message' ? `message:${(args[1] as { t: string }).t}` : e))).toEqual(['connected', 'message:ping', 'message:ack', 'message:prune'])
    expect(stats.chunksIn).toBe(2)
    expect(stats.framesIn).toBe(4)
  })

  it('drops what was queued for a connection that closed meanwhile', async () => {
    const { links } = linkSet()
    const conn = new FakeConn()
    links.add('p', conn as unknown as NoiseSecretStream)
    links.send('p', { t: 'ping', seq: 1 })
    conn.destroyed = true // closed by the peer, our close handler not run yet
    await turn()
    expect(conn.writes).toHaveLength(0)
  })
})
