/**
 * A private DHT bootstrap node (the coordinator hosts one on the controller; `shoal
 * bootstrap` and the demo start their own). Agents list its `host:port` as their only
 * bootstrap, so discovery never touches the public hyperswarm network.
 */
import { createSocket } from 'node:dgram'
import DHT from 'hyperdht'
import { ShoalError } from '../protocol/errors.js'

export interface BootstrapNode {
  /** `host:port` to give agents as `bootstrap`. */
  readonly address: string
  /** Its process id when it runs in a process of its own (for CPU accounting in benchmarks). */
  readonly pid?: number
  close(): Promise<void>
}

/** Starts a bootstrapper; port 0 picks a free UDP port. */
export async function startBootstrapNode(opts: { host?: string; port?: number } = {}): Promise<BootstrapNode> {
  const host = opts.host ?? '127.0.0.1'
  const port = opts.port || (await freeUdpPort(host))
  let dht: DHT
  try {
    dht = DHT.bootstrapper(port, host)
    await dht.ready()
  } catch (err) {
    throw new ShoalError('bootstrap', `cannot start a bootstrap node on ${host}:${port}: ${(err as Error).message} (pick another --port)`, { cause: err })
  }
  let closed = false
  return {
    address: `${host}:${port}`,
    async close() {
      if (closed) return
      closed = true
      await dht.destroy()
    },
  }
}

/** A UDP port free on `host` right now (a DHT node that must keep one address across restarts picks it once). */
export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  const sock = createSocket('udp4')
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject)
    sock.bind(0, host, () => resolve())
  })
  const { port } = sock.address()
  await new Promise<void>((resolve) => sock.close(() => resolve()))
  return port
}

/** Parses `host:port` strings as given in config or flags. */
export function parseHostPort(value: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(value.trim())
  const port = m ? Number(m[2]) : NaN
  if (!m || !(port > 0 && port < 65536)) throw new ShoalError('config', `"${value}" is not host:port (example: 127.0.0.1:49737)`)
  return { host: m[1]!, port }
}
