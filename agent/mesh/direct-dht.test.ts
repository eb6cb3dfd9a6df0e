/**
 * DirectDHT on loopback (a private bootstrap node, a server and a client in this process):
 * a dial to the address a record names connects with no DHT query at all; a wrong address
 * still connects, through the lookup, once the direct attempt has waited `lookupAfterMs`;
 * a dial with no known address looks up as hyperdht always did. Waits on events with deadlines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import DHT, { type KeyPair, type NoiseSecretStream } from 'hyperdht'
import { freeUdpPort, parseHostPort, startBootstrapNode, type BootstrapNode } from './bootstrap-node.js'
import { DirectDHT, parseMeshAddress } from './direct-dht.js'

interface Listener {
  listen(keyPair: KeyPair): Promise<void>
  close(): Promise<void>
}
const queries = (d: DHT) => (d as unknown as { stats: { queries: { total: number } } }).stats.queries.total

function opened(s: NoiseSecretStream, deadlineMs: number): Promise<void> {
  s.on('error', () => {})
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not open within ${deadlineMs} ms`)), deadlineMs)
    s.once('open', () => {
      clearTimeout(timer)
      resolve()
    })
    s.once('close', () => {
      clearTimeout(timer)
      reject(new Error('closed before it opened'))
    })
  })
}

async function closeStream(s: NoiseSecretStream): Promise<void> {
  const closed = new Promise((r) => s.once('close', r))
  s.destroy()
  await closed
}

describe('DirectDHT: dialling the address a record names', () => {
  let bootstrapNode: BootstrapNode
  let server: DirectDHT
  let client: DirectDHT
  let listener: Listener
  const keyPair = DHT.keyPair()
  const hex = keyPair.publicKey.toString('hex')

  beforeAll(async () => {
    bootstrapNode = await startBootstrapNode()
    const bootstrap = [parseHostPort(bootstrapNode.address)]
    server = new DirectDHT({ bootstrap, host: '127.0.0.1', firewalled: false })
    client = new DirectDHT({ bootstrap, host: '127.0.0.1', firewalled: false, lookupAfterMs: 300 })
    listener = (server as unknown as { createServer(onConn: (c: NoiseSecretStream) => void): Listener }).createServer((c) => c.on('error', () => {}))
    await listener.listen(keyPair)
    await client.ready()
  }, 30_000)

  afterAll(async () => {
    await client?.destroy()
    await listener?.close()
    await server?.destroy()
    await bootstrapNode?.close()
  })

  it('connects straight to a known address with no DHT query', async () => {
    client.setAddress(hex, { host: '127.0.0.1', port: server.address().port })
    const before = queries(client)
    const s = client.connect(keyPair.publicKey)
    await opened(s, 20_000)
    expect(s.remotePublicKey.equals(keyPair.publicKey)).toBe(true)
    expect(queries(client) - before).toBe(0)
    expect(client.directDials).toBe(1)
    expect(client.directFallbacks).toBe(0)
    await closeStream(s)
  }, 30_000)

  it('a wrong address still connects: the lookup runs once the direct attempt has waited', async () => {
    client.setAddress(hex, { host: '127.0.0.1', port: await freeUdpPort() })
    const before = queries(client)
    const s = client.connect(keyPair.publicKey)
    await opened(s, 20_000)
    expect(client.directFallbacks).toBe(1)
    expect(queries(client) - before).toBeGreaterThanOrEqual(1)
    await closeStream(s)
  }, 30_000)

  it('with no known address it looks the server up, as hyperdht does', async () => {
    client.forgetAddress(hex)
    const dials = client.directDials
    const before = queries(client)
    const s = client.connect(keyPair.publicKey)
    await opened(s, 20_000)
    expect(client.directDials).toBe(dials)
    expect(queries(client) - before).toBeGreaterThanOrEqual(1)
    await closeStream(s)
  }, 30_000)
})

describe('parseMeshAddress', () => {
  it('takes an IPv4 host:port and nothing else', () => {
    expect(parseMeshAddress('10.0.0.21:49737')).toEqual({ host: '10.0.0.21', port: 49737 })
    expect(parseMeshAddress('127.0.0.1:1')).toEqual({ host: '127.0.0.1', port: 1 })
    for (const bad of [undefined, '', '10.0.0.21', '10.0.0.21:0', '10.0.0.21:65536', '256.0.0.1:80', '0.0.0.0:80', 'host:80', '[::1]:80', ' 10.0.0.1:80', '10.0.0.1:80 ', '1.2.3.4:5:6']) {
      expect(parseMeshAddress(bad), String(bad)).toBeUndefined()
    }
  })
})
