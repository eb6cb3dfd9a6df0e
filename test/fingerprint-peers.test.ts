/**
 * Known fingerprints come from the mesh, so a rebooting worker keeps its id without the coordinator: a real agent API on
 * loopback serves the fingerprints of the records it holds; a worker whose NIC was swapped
 * reboots while the coordinator is unreachable, asks that agent (shoal.peers=) and gets its
 * old id back; peers that answer garbage, too much, nothing or an error are skipped and
 * counted; `shoal fingerprint --known-from HOST:PORT` asks the same endpoint.
 */
import { createServer, type Server, type ServerResponse } from 'node:http'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AgentClient } from '../agent/api/agent-client.js'
import { ApiServer, type ApiSource } from '../agent/api/api-server.js'
import { runBoot } from '../agent/boot/boot-sequence.js'
import { readMachineIdentity, type MachineIdentity } from '../agent/boot/machine-identity.js'
import { fetchPeerFingerprints } from '../agent/boot/peer-client.js'
import { cmdline, fakeBoot } from '../agent/boot/test-fixtures.js'
import { resolveIdentity, writeFakeSysfs } from '../agent/fingerprint/index.js'
import type { MemberView } from '../agent/protocol/mesh-types.js'
import type { NodeRecordBody } from '../agent/protocol/node-record.js'
import { main } from '../cli/main.js'
import { mutateMachine, syntheticMachine, type SyntheticMachine } from '../sim/synthetic-machines.js'

const SEED = 7

function record(id: string, comps: string[], over: Partial<NodeRecordBody> = {}): NodeRecordBody {
  return { id, key: 'a'.repeat(64), inc: 1, ver: 4, image: 'v1', phase: 'ready', domain: 'r1', api: '10.0.0.9:7400', inv: {}, health: { status: 'ok', conditions: [] }, comps, ...over }
}

/** An ApiSource with a fixed mesh view: what a running agent's MeshRuntime would hold. */
function meshSource(selfId: string, members: MemberView[]): ApiSource {
  return { selfId, startedAt: 0, now: () => 60_000, view: () => members, counters: () => ({}), on: () => undefined, off: () => undefined }
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return `127.0.0.1:${(server.address() as { port: number }).port}`
}

async function closedPort(): Promise<string> {
  const s = createServer()
  const address = await listen(s)
  await new Promise((r) => s.close(r))
  return address
}

let dir: string
let machine: SyntheticMachine
let before: MachineIdentity // the machine as it last booted (its record is in the mesh)
let after: MachineIdentity // the same machine with one NIC replaced
const servers: Server[] = []
const apis: ApiServer[] = []
let peer: string // a real agent API whose view holds the machine's old record
let liveMachine: SyntheticMachine // worker-1: alive in the peer's view

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-fp-peers-'))
  // A Dell with disks, NICs and DIMMs: plenty of evidence, so one swap must keep its id.
  let i = 0
  while (syntheticMachine(i, SEED).profile !== 'dell') i++
  machine = syntheticMachine(i, SEED)
  const swapped = mutateMachine(machine, 'nic-replaced', SEED)!
  await mkdir(join(dir, 'proc'))
  await writeFakeSysfs(join(dir, 'before'), machine.hardware)
  await writeFakeSysfs(join(dir, 'after'), swapped.hardware)
  before = await readMachineIdentity(join(dir, 'before'), join(dir, 'proc'))
  after = await readMachineIdentity(join(dir, 'after'), join(dir, 'proc'))

  const others = [1, 2, 3].map((k) => syntheticMachine(i + 100 + k, SEED))
  liveMachine = others[1]!
  const view: MemberView[] = [
    // The machine's old self: it went down for the reboot, so its peers hold it dead.
    { id: before.fingerprint.id, status: 'dead', inc: 3, updatedAt: 1, statusSince: 50_000, record: record(before.fingerprint.id, before.fingerprint.comps, { inc: 3 }) },
    ...others.map((o, k): MemberView => {
      const id = `worker-${k}`
      return { id, status: 'alive', inc: 1, updatedAt: 1, statusSince: 1, record: record(id, resolveIdentity(o.components).comps) }
    }),
    // The coordinator is a mesh member too, with an empty digest: not a machine to match.
    { id: 'coordinator', status: 'alive', inc: 1, updatedAt: 1, statusSince: 1, record: record('coordinator', [], { domain: 'controller' }) },
  ]
  const api = new ApiServer({ source: meshSource('worker-0', view) })
  apis.push(api)
  const bound = await api.listen(0, '127.0.0.1')
  peer = `${bound.host}:${bound.port}`
})

afterAll(async () => {
  for (const a of apis) await a.close()
  for (const s of servers) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
  await rm(dir, { recursive: true, force: true })
})

describe('GET /v1/fingerprints (a real agent API on loopback)', () => {
  it('serves the fingerprints of every record the agent heard about, with liveness and record version', async () => {
    const client = new AgentClient(peer)
    try {
      const answer = (await client.fingerprints()) as { id: string; comps: string[]; alive: boolean; inc: number; ver: number }[]
      expect(answer.map((e) => e.id)).toEqual([before.fingerprint.id, 'worker-0', 'worker-1', 'worker-2'].sort())
      expect(answer.find((e) => e.id === before.fingerprint.id)).toEqual({ id: before.fingerprint.id, comps: before.fingerprint.comps, alive: false, inc: 3, ver: 4 })
      expect(answer.find((e) => e.id === 'worker-1')).toMatchObject({ alive: true })
      // No serial number leaves the agent: only "kind:hash" digest entries.
      const text = JSON.stringify(answer)
      for (const c of machine.components) if (c.kind !== 'cpu' && c.value.length > 6) expect(text).not.toContain(c.value)
    } finally {
      await client.close()
    }
  })
})

describe('a rebooting worker asks its peers who it is', () => {
  const peerPorts = (f: ReturnType<typeof fakeBoot>, peers: string[], limits = { timeoutMs: 10_000, maxBytes: 1 << 20 }) => {
    f.ports.readCmdline = async () => `${cmdline} shoal.peers=${peers.join(',')}`
    f.ports.identify = async () => after
    f.ports.askPeer = (address) => fetchPeerFingerprints(address, limits)
  }

  it('NIC swapped, coordinator unreachable: the peer gives it its old id, which it proposes when the coordinator is back', async () => {
    expect(after.fingerprint.id).not.toBe(before.fingerprint.id) // alone, the swapped machine would be new
    const f = fakeBoot({ retryJitter: 0 })
    peerPorts(f, [peer])
    f.coordinator.downCalls = 4
    const proposed: string[] = []
    const enroll = f.coordinator.enroll.bind(f.coordinator)
    f.coordinator.enroll = async (req) => {
      proposed.push(req.fingerprint.id)
      return enroll(req)
    }
    const r = await runBoot(f.ports, f.cfg, '/new_root')
    const knownAt = f.said.findIndex((l) => l.startsWith(`peers know this machine as ${before.fingerprint.id} (score`))
    const firstRefusal = f.said.findIndex((l) => /enrolling with .* failed: cannot reach/.test(l))
    expect(knownAt).toBeGreaterThanOrEqual(0)
    expect(firstRefusal).toBeGreaterThan(knownAt) // it knew its id while the coordinator was still down
    expect(f.sleeps).toHaveLength(4)
    expect(proposed).toEqual(Array(5).fill(before.fingerprint.id))
    expect(r.id).toBe(before.fingerprint.id)
    expect(r.peers).toMatchObject({ asked: 1, answered: 1, known: 4, decision: 'matched', id: before.fingerprint.id })
    expect(Object.values(r.peers.dropped).every((n) => n === 0)).toBe(true)
    // The run-mode agent publishes the swapped machine's digest under its old id.
    expect(f.nodeFiles[0]).toMatchObject({ comps: after.fingerprint.comps, enrolled: { id: before.fingerprint.id } })
  })

  it("the coordinator's word wins over the peers'", async () => {
    const f = fakeBoot()
    peerPorts(f, [peer])
    const enroll = f.coordinator.enroll.bind(f.coordinator)
    f.coordinator.enroll = (req) => enroll({ ...req, fingerprint: { ...req.fingerprint, id: 'coordinator-knows-better' } })
    const r = await runBoot(f.ports, f.cfg, '/new_root')
    expect(r.id).toBe('coordinator-knows-better')
    expect(f.said).toContain(`peers knew this machine as ${before.fingerprint.id}, the coordinator enrolled it as coordinator-knows-better: the coordinator's word wins`)
  })

  it('a machine the peers do not know stays new', async () => {
    const f = fakeBoot()
    peerPorts(f, [peer])
    const stranger = syntheticMachine(5000, SEED)
    await writeFakeSysfs(join(dir, 'stranger'), stranger.hardware)
    const id = await readMachineIdentity(join(dir, 'stranger'), join(dir, 'proc'))
    f.ports.identify = async () => id
    const r = await runBoot(f.ports, f.cfg, '/new_root')
    expect(r.peers).toMatchObject({ decision: 'new', answered: 1 })
    expect(r.id).toBe(id.fingerprint.id)
  })

  it('a clone of a node that is alive is not given that node\'s id', async () => {
    const f = fakeBoot()
    peerPorts(f, [peer])
    await writeFakeSysfs(join(dir, 'clone'), liveMachine.hardware)
    const clone = await readMachineIdentity(join(dir, 'clone'), join(dir, 'proc'))
    f.ports.identify = async () => clone
    const r = await runBoot(f.ports, f.cfg, '/new_root')
    expect(r.peers.decision).toBe('new')
    expect(r.id).not.toBe('worker-1')
    expect(f.said.some((l) => /looks like worker-1 .* which is alive elsewhere: taking a new id/.test(l))).toBe(true)
  })

  it('drops and counts peers that are down, hang, answer an error, malformed JSON, the wrong schema or an endless body; the good one still wins', async () => {
    const serve = async (handler: (res: ServerResponse) => void) => {
      const s = createServer((_req, res) => handler(res))
      servers.push(s)
      return listen(s)
    }
    const malformed = await serve((res) => res.end('{"id": ["not json'))
    const wrongSchema = await serve((res) => res.end(JSON.stringify({ nodes: [{ id: 'x', comps: 'nic:A' }] })))
    const notFound = await serve((res) => {
      res.statusCode = 404
      res.end(JSON.stringify({ error: { code: 'not-found', message: 'no route /v1/fingerprints' } }))
    })
    let hugeClosed!: () => void
    const hugeDone = new Promise<void>((r) => (hugeClosed = r))
    let hugeSent = 0
    const huge = await serve((res) => {
      // An endless body: the client must stop reading at its byte cap and hang up.
      const chunk = Buffer.alloc(64 * 1024, 0x20)
      res.write('[')
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) hugeSent += chunk.length
        if (!res.destroyed) res.once('drain', pump)
      }
      res.on('close', hugeClosed)
      pump()
    })
    const hang = await serve(() => undefined) // accepts, never answers
    const down = await closedPort()

    const f = fakeBoot()
    peerPorts(f, [malformed, wrongSchema, notFound, huge, hang, down, peer, 'not-an-address'], { timeoutMs: 2000, maxBytes: 256 * 1024 })
    const r = await runBoot(f.ports, f.cfg, '/new_root')
    await hugeDone
    expect(hugeSent).toBeLessThan(64 * 1024 * 1024) // it did hang up
    expect(r.peers).toMatchObject({ asked: 7, answered: 1, decision: 'matched', id: before.fingerprint.id })
    expect(r.peers.dropped).toEqual({ unreachable: 2, 'http-status': 1, 'too-large': 1, 'not-json': 1, schema: 1 })
    expect(r.id).toBe(before.fingerprint.id)
    const skipped = f.said.filter((l) => /^peer .* skipped: /.test(l))
    expect(skipped).toHaveLength(6)
    expect(skipped.find((l) => l.includes(hang))).toMatch(/timed out/)
    expect(skipped.find((l) => l.includes(huge))).toMatch(/more than 262144 bytes/)
    expect(f.said).toContain('shoal.peers: skipping "not-an-address" is not HOST:PORT')
  })

  it('no peer answers: the coordinator alone resolves the id, and the boot goes on', async () => {
    const f = fakeBoot()
    peerPorts(f, [await closedPort()])
    const r = await runBoot(f.ports, f.cfg, '/new_root')
    expect(r.peers).toMatchObject({ asked: 1, answered: 0, decision: 'none' })
    expect(r.peers.dropped.unreachable).toBe(1)
    expect(r.id).toBe(after.fingerprint.id)
    expect(f.said.some((l) => l.startsWith('no peer answered (1 asked)'))).toBe(true)
  })

  it('without shoal.peers= nobody is asked', async () => {
    const f = fakeBoot()
    f.ports.askPeer = () => {
      throw new Error('must not be asked')
    }
    const r = await runBoot(f.ports, f.cfg, '/new_root')
    expect(r.peers).toMatchObject({ asked: 0, answered: 0, decision: 'none' })
  })
})

describe('shoal fingerprint --known-from HOST:PORT', () => {
  async function shoal(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = []
    const err: string[] = []
    const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) })
    return { code, out: out.join('\n'), err: err.join('\n') }
  }

  it('resolves a --sysfs tree against a live agent: the NIC swap keeps the id', async () => {
    const r = await shoal('fingerprint', '--sysfs', join(dir, 'after'), '--known-from', peer, '-o', 'json')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.out)).toMatchObject({ id: before.fingerprint.id, decision: 'matched' })
    const table = await shoal('fingerprint', '--sysfs', join(dir, 'after'), '--known-from', peer)
    expect(table.out).toContain(`id        ${before.fingerprint.id}`)
    expect(table.out).toMatch(new RegExp(`matched a known machine \\(from the agent at ${peer.replace(/\./g, '\\.')}\\) \\(score 0\\.\\d+\\)`))
    expect(table.out).toMatch(/kept, matched/)
  })

  it('an unreachable agent: exit 3, one line', async () => {
    const r = await shoal('fingerprint', '--sysfs', join(dir, 'after'), '--known-from', await closedPort())
    expect(r.code).toBe(3)
    expect(r.err.split('\n')).toHaveLength(1)
    expect(r.err).toMatch(/cannot reach the agent at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/)
  })

  it('an agent whose answer does not parse, or that has no such route: exit 1 with what is wrong', async () => {
    const s = createServer((req, res) => {
      if (req.url === '/v1/fingerprints') return res.end(JSON.stringify([{ id: 'a b', comps: [] }]))
      res.statusCode = 404
      res.end('{}')
    })
    servers.push(s)
    const garbled = await listen(s)
    const bad = await shoal('fingerprint', '--sysfs', join(dir, 'after'), '--known-from', garbled)
    expect(bad.code).toBe(1)
    expect(bad.err).toMatch(/answered \/v1\/fingerprints with something this CLI does not understand \(at 0\.id: node id/)
    const old = createServer((_req, res) => {
      res.statusCode = 404
      res.end(JSON.stringify({ error: { code: 'not-found', message: 'no route /v1/fingerprints; see agent/api/openapi.yaml' } }))
    })
    servers.push(old)
    const r = await shoal('fingerprint', '--sysfs', join(dir, 'after'), '--known-from', await listen(old))
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/does not serve \/v1\/fingerprints \(an agent older than this CLI\?\)/)
  })

  it.each([
    [['--known-from', 'nohost'], /--known-from must be HOST:PORT/],
    [['--known-from', '127.0.0.1:0'], /--known-from must be HOST:PORT/],
    [['--known-from', '127.0.0.1:7400', '--known', 'known.json'], /give --known FILE or --known-from HOST:PORT, not both/],
    [['--known-from', '127.0.0.1:7400', '--timeout-ms', 'soon'], /--timeout-ms must be a positive integer/],
  ])('bad input %j: exit 2', async (args, message) => {
    const r = await shoal('fingerprint', ...(args as string[]))
    expect(r.code).toBe(2)
    expect(r.err).toMatch(message)
  })
})
