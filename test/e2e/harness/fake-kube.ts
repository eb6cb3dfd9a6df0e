/**
 * The fake Kubernetes API server (sim/fakes/kube-api-server.ts: the real API's shapes, so
 * our client and kubectl work against it) as a process inside the test's LAN namespace,
 * where the QEMU workers can reach it. No kubelet runs in the VMs, so the test registers
 * each worker's Node (Ready) itself, as a kubelet would at start:
 *   stdin:  `node NAME` per line
 *   stdout: `listening URL`, then one JSON line per write request ({"method","path","status"})
 * usage: node --import tsx fake-kube.ts HOST PORT
 */
import { createInterface } from 'node:readline'
import { FakeKubeApiServer } from '../../../sim/fakes/kube-api-server.js'

const [host = '127.0.0.1', port = '6443'] = process.argv.slice(2)
const kube = new FakeKubeApiServer()
kube.on('request', (r: { method: string; path: string; status: number }) => {
  if (r.method !== 'GET') process.stdout.write(`${JSON.stringify({ method: r.method, path: r.path, status: r.status })}\n`)
})
const url = await kube.start(Number(port), host)
process.stdout.write(`listening ${url}\n`)
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = /^node (\S+)$/.exec(line.trim())
  if (m && !kube.nodes.has(m[1]!)) kube.addNode({ name: m[1]!, ready: true })
})
process.stdin.on('end', () => void kube.close().then(() => process.exit(0)))
