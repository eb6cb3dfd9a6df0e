/** `shoal bootstrap`: runs a private DHT bootstrap node and prints its address for agents' config. */
import { startBootstrapNode } from '../../agent/mesh/bootstrap-node.js'
import { ShoalError } from '../../agent/protocol/errors.js'
import { parse, positionals } from '../args.js'
import type { CliIo } from '../main.js'

export const summary = 'run a private DHT bootstrap node and print its address'
const usage = 'shoal bootstrap [--host IPV4] [--port N]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals: args } = parse(argv, { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '49737' }, 'exit-with-stdin': { type: 'boolean' } }, usage, {
    summary,
    docs: {
      host: { value: 'IPV4', help: 'the address agents reach (the provisioning LAN address)' },
      port: { value: 'N', help: 'UDP port; 0 picks a free one' },
      'exit-with-stdin': { help: 'exit when stdin closes (run by a supervisor)' },
    },
  })
  positionals(args, 0, 0, usage)
  const port = Number(values.port)
  if (!/^\d+$/.test(String(values.port)) || port < 0 || port > 65535) throw new ShoalError('usage', `--port must be 0..65535 (0 picks a free one), not "${values.port}"`)
  const host = String(values.host)
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host === '0.0.0.0') throw new ShoalError('usage', `--host must be the IPv4 address agents reach (e.g. the provisioning LAN address), not "${host}"`)
  const node = await startBootstrapNode({ host, port })
  io.out(`bootstrap node listening on ${node.address} (udp)`)
  io.out(`give agents:  "bootstrap": ["${node.address}"]   or   --bootstrap ${node.address}`)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
    if (values['exit-with-stdin']) {
      // Run by a supervisor (the demo): go when it goes.
      process.stdin.on('end', resolve)
      process.stdin.on('close', resolve)
      process.stdin.resume()
    }
  })
  await node.close()
  return 0
}
