/**
 * A PXE client's first question, for tests: broadcast one DHCPDISCOVER the way a PXE ROM or
 * iPXE sends it, collect every offer until the deadline (a PXE client listens for proxyDHCP
 * offers beside the address offer) and print them as JSON on stdout. Run it inside a
 * network namespace the test created (it binds UDP 68 and broadcasts):
 *
 *   ip netns exec NS node --import tsx test/support/dhcp-discover.ts --mac 52:54:00:00:00:01 [--ipxe] [--arch 0] [--want 1] [--wait-ms 10000]
 *
 * It stops once offers from `--want` distinct servers arrived, or at the deadline.
 *
 * The namespace needs a route for 255.255.255.255 (a default route on its one interface).
 */
import { createSocket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'

export interface Offer {
  /** DHCP message type (2 = OFFER). */
  type: number
  serverId?: string
  yiaddr: string
  siaddr: string
  file: string
  vendorClass?: string
  router?: string
  dns?: string
  /** Option 43 (PXE vendor options) in hex, present on proxyDHCP offers. */
  pxeOptions?: string
}

const ip = (b: Buffer, at: number) => [...b.subarray(at, at + 4)].join('.')
const ips = (b: Buffer) => Array.from({ length: b.length / 4 }, (_, i) => ip(b, i * 4)).join(',')
const cstr = (b: Buffer) => b.subarray(0, b.indexOf(0) < 0 ? b.length : b.indexOf(0)).toString('latin1')

export function discover(mac: string, opts: { ipxe: boolean; arch?: number; xid: Buffer }): Buffer {
  const head = Buffer.alloc(240)
  head[0] = 1 // BOOTREQUEST
  head[1] = 1 // Ethernet
  head[2] = 6
  opts.xid.copy(head, 4)
  head.writeUInt16BE(0x8000, 10) // broadcast the answer: this client has no address yet
  Buffer.from(mac.split(':').map((h) => parseInt(h, 16))).copy(head, 28)
  Buffer.from([99, 130, 83, 99]).copy(head, 236)
  const o: number[] = [53, 1, 1, 55, 8, 1, 3, 6, 43, 60, 66, 67, 175]
  const arch = opts.arch ?? 0
  const vendor = Buffer.from(`PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:002001`)
  o.push(60, vendor.length, ...vendor)
  o.push(93, 2, arch >> 8, arch & 0xff, 94, 3, 1, 2, 1)
  o.push(97, 17, 0, ...randomBytes(16))
  if (opts.ipxe) {
    o.push(77, 4, ...Buffer.from('iPXE'))
    o.push(175, 3, 19, 1, 1) // iPXE's encapsulated options: HTTP supported
  }
  o.push(255)
  return Buffer.concat([head, Buffer.from(o)])
}

export function parseReply(b: Buffer, xid: Buffer): Offer | undefined {
  if (b.length < 240 || b[0] !== 2 || !b.subarray(4, 8).equals(xid)) return undefined
  const opts = new Map<number, Buffer>()
  for (let i = 240; i < b.length && b[i] !== 255; ) {
    if (b[i] === 0) {
      i++
      continue
    }
    const len = b[i + 1]!
    opts.set(b[i]!, b.subarray(i + 2, i + 2 + len))
    i += 2 + len
  }
  const fileOpt = opts.get(67)
  return {
    type: opts.get(53)?.[0] ?? 0,
    serverId: opts.get(54) ? ip(opts.get(54)!, 0) : undefined,
    yiaddr: ip(b, 16),
    siaddr: ip(b, 20),
    file: fileOpt ? cstr(fileOpt) : cstr(b.subarray(108, 236)),
    vendorClass: opts.get(60)?.toString('latin1'),
    router: opts.get(3) ? ips(opts.get(3)!) : undefined,
    dns: opts.get(6) ? ips(opts.get(6)!) : undefined,
    pxeOptions: opts.get(43)?.toString('hex'),
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { mac: { type: 'string' }, ipxe: { type: 'boolean' }, arch: { type: 'string' }, want: { type: 'string' }, 'wait-ms': { type: 'string' } } })
  const xid = randomBytes(4)
  const packet = discover(values.mac!, { ipxe: values.ipxe ?? false, arch: values.arch === undefined ? undefined : Number(values.arch), xid })
  const want = Number(values.want ?? 1)
  const sock = createSocket({ type: 'udp4', reuseAddr: true })
  const offers = new Map<string, Offer>()
  let done: () => void = () => undefined
  const finished = new Promise<void>((r) => (done = r))
  // Offers from distinct servers: a retransmitted DISCOVER gets the same offer again.
  sock.on('message', (msg) => {
    const o = parseReply(msg, xid)
    if (!o) return
    offers.set(o.serverId ?? o.siaddr, o)
    if (offers.size >= want) done()
  })
  await new Promise<void>((r) => sock.bind(68, '0.0.0.0', () => r()))
  sock.setBroadcast(true)
  const send = () =>
    sock.send(packet, 67, '255.255.255.255', (err) => {
      if (!err) return
      process.stderr.write(`cannot broadcast the DISCOVER: ${err.message} (does the namespace have a route, e.g. ip route add default dev eth0?)\n`)
      process.exit(1)
    })
  // Retransmit each second as PXE ROMs do: dnsmasq answers a new client only once it has
  // pinged the address it will offer (its guard against handing out an address in use).
  send()
  const again = setInterval(send, 1000)
  const deadline = setTimeout(done, Number(values['wait-ms'] ?? 10_000))
  await finished
  clearInterval(again)
  clearTimeout(deadline)
  sock.close()
  process.stdout.write(JSON.stringify([...offers.values()]) + '\n')
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) await main()
