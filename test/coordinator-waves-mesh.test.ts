/**
 * The coordinator as a real mesh peer: a coordinator with its own DHT bootstrap node and
 * two real agents (agent/main.ts startAgent) over hyperswarm on loopback. The agents find
 * the coordinator through the roster it signed, the wave and its control message reach
 * them, the status reads their gossiped records, and a grant broadcast by an agent reaches
 * the coordinator's VoteNode so that agent's /v1/assign is accepted.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { resolveAgentConfig } from '../agent/config.js'
import { startAgent, type RunningAgent } from '../agent/main.js'
import { unpack } from '../agent/protocol/frame.js'
import type { MeshEvent } from '../agent/protocol/mesh-types.js'
import { decodeVoteMessage, encodeVoteMessage } from '../agent/protocol/vote/vote-codec.js'
import { signingBytes, VOTE_TOPIC, type Unsigned, type VoteMessage } from '../agent/protocol/vote/vote-messages.js'
import { WAVE_CONTROL_TOPIC, type WaveControlMsg } from '../agent/protocol/wave-control.js'
import { postJson, smallImage, startTestCoordinator, testMachine, tokenFromScript, type TestCoordinator } from '../coordinator/testing.js'
import { assignSigningText } from '../coordinator/waves/wave-api.js'

const DEADLINE_MS = 20_000

/** Resolves when `check()` holds, re-checked on every event of `emitter`; rejects at the deadline. */
function waitFor(emitter: { on(e: 'event', l: (ev: MeshEvent) => void): unknown; off(e: 'event', l: (ev: MeshEvent) => void): unknown }, check: () => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (check()) return resolve()
    const timer = setTimeout(() => {
      emitter.off('event', on)
      reject(new Error(`timed out after ${DEADLINE_MS} ms waiting for ${what}`))
    }, DEADLINE_MS)
    const on = () => {
      if (!check()) return
      clearTimeout(timer)
      emitter.off('event', on)
      resolve()
    }
    emitter.on('event', on)
  })
}

function seedHex(n: number): string {
  const seed = new Uint8Array(32)
  seed[0] = n & 0xff
  seed[1] = (n >> 8) & 0xff
  seed[31] = 0x5a // as coordinator/testing.ts testMachine derives its keys
  return Buffer.from(seed).toString('hex')
}

let h: TestCoordinator
let dir: string
const agents: RunningAgent[] = []
const heard = new Map<string, { votes: VoteMessage[]; controls: WaveControlMsg[] }>()
const machines = [testMachine(1), testMachine(2)]

beforeAll(async () => {
  h = await startTestCoordinator({ images: { v1: smallImage, v2: smallImage }, config: { defaultImage: 'v1', dhtPort: 0, dhtHost: '127.0.0.1' } })
  dir = await mkdtemp(join(tmpdir(), 'shoal-waves-mesh-'))
  const ids: string[] = []
  for (const m of machines) {
    const script = await (await fetch(`${h.url}/boot/ipxe?mac=${m.mac}`)).text()
    const r = await postJson(`${h.url}/v1/enroll`, m.request(tokenFromScript(script)))
    expect(r.status).toBe(200)
    ids.push(r.json.id)
  }
  const roster = await (await fetch(`${h.url}/v1/roster`)).json()
  const rosterFile = join(dir, 'roster.json')
  await writeFile(rosterFile, JSON.stringify({ cluster: roster.cluster, members: roster.members }))
  for (let i = 0; i < machines.length; i++) {
    const config = resolveAgentConfig({
      cluster: h.coordinator.state.clusterId,
      nodeId: ids[i],
      seedHex: seedHex(i + 1),
      rosterFile,
      bootstrap: [h.coordinator.bootstrapAddress!],
      meshHost: '127.0.0.1',
      apiPort: 0,
      image: 'v1',
      domain: 'rack-a',
      phase: 'ready',
      collectInventory: false,
      logLevel: 'silent',
    })
    const a = await startAgent(config, { logger: pino({ level: 'silent' }) })
    const log = { votes: [] as VoteMessage[], controls: [] as WaveControlMsg[] }
    heard.set(a.id, log)
    a.runtime.on('event', (e) => {
      if (e.type !== 'app') return
      if (e.topic === VOTE_TOPIC) {
        const d = decodeVoteMessage(e.body)
        if (d.ok) log.votes.push(d.msg)
      } else if (e.topic === WAVE_CONTROL_TOPIC) log.controls.push(unpack(e.body) as WaveControlMsg)
    })
    agents.push(a)
  }
}, 60_000)

afterAll(async () => {
  for (const a of agents) await a.close()
  await h?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('coordinator as a mesh peer', () => {
  it('sees the agents, publishes the wave to them, and accepts a holder whose grant came over the mesh', async () => {
    const peer = h.coordinator.waves.peer!
    expect(peer).toBeDefined()
    const alive = () => agents.every((a) => peer.runtime.view().some((m) => m.id === a.id && m.status === 'alive' && m.record?.image === 'v1'))
    await waitFor(peer.runtime, alive, "the agents' records at the coordinator")

    const res = await fetch(`${h.url}/v1/waves`, { method: 'POST', headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ target: 'v2', maxUnavailable: 1 }) })
    expect(res.status).toBe(201)
    for (const a of agents) {
      const log = heard.get(a.id)!
      await waitFor(a.runtime, () => log.votes.some((v) => v.k === 'wave' && v.id === 'w1') && log.controls.some((c) => c.wave === 'w1' && c.state === 'running'), `the wave at ${a.id}`)
    }
    const st = await (await fetch(`${h.url}/v1/waves/w1`, { headers: { authorization: `Bearer ${h.adminToken}` } })).json()
    expect(st.nodes.map((n: { node: string; state: string; image: string; liveness: string }) => [n.node, n.state, n.image, n.liveness])).toEqual(agents.map((a) => [a.id, 'waiting', 'v1', 'alive']).sort())

    // Agent 1 "wins" slot 0 at term 1 and broadcasts its grant, signed with its own key.
    const a = agents.find((x) => x.publicKey === machines[0]!.keyring.publicKey)!
    const grant: Unsigned<VoteMessage> = { k: 'grant', wave: 'w1', slot: 0, term: 1, holder: a.id, votes: 1 }
    const signed = { ...grant, sig: machines[0]!.keyring.sign(signingBytes(grant)) } as VoteMessage
    let seen = false
    const onGrant = (e: MeshEvent) => {
      if (e.type === 'app' && e.topic === VOTE_TOPIC && decodeVoteMessage(e.body).ok) seen ||= (decodeVoteMessage(e.body) as { msg: VoteMessage }).msg.k === 'grant'
    }
    peer.runtime.on('event', onGrant)
    a.runtime.input({ type: 'broadcast', topic: VOTE_TOPIC, body: encodeVoteMessage(signed) })
    await waitFor(peer.runtime, () => seen, 'the grant at the coordinator')
    peer.runtime.off('event', onGrant)

    const fields = { node: a.id, wave: 'w1', slot: 0, term: 1 }
    const body = { ...fields, sig: Buffer.from(machines[0]!.keyring.sign(new TextEncoder().encode(assignSigningText(fields)))).toString('hex') }
    const ok = await postJson(`${h.url}/v1/assign`, body)
    expect(ok).toMatchObject({ status: 200, json: { node: a.id, image: 'v2' } })

    // The holder starts draining: the coordinator reads it from the gossip.
    a.runtime.updateSelf({ phase: 'draining' })
    await waitFor(peer.runtime, () => peer.runtime.view().find((m) => m.id === a.id)?.record?.phase === 'draining', 'the draining record')
    const st2 = await (await fetch(`${h.url}/v1/waves/w1`, { headers: { authorization: `Bearer ${h.adminToken}` } })).json()
    expect(st2.nodes.find((n: { node: string }) => n.node === a.id)).toMatchObject({ state: 'draining', slot: 0, term: 1 })
  }, 60_000)
})
