/**
 * Test harness for waves without hyperswarm: a coordinator on loopback whose mesh view is
 * a map the test edits (members as the coordinator would see them gossiped) and whose
 * outgoing vote/control messages are captured; enrolled machines with their real keys to
 * sign vote messages and /v1/assign requests. Used by test/coordinator-waves*.test.ts.
 */
import { unpack } from '../../agent/protocol/frame.js'
import type { MemberView, NodeRecordBody } from '../../agent/protocol/mesh-types.js'
import { decodeVoteMessage, encodeVoteMessage } from '../../agent/protocol/vote/vote-codec.js'
import { signingBytes, VOTE_TOPIC, type Unsigned, type VoteMessage } from '../../agent/protocol/vote/vote-messages.js'
import { WAVE_CONTROL_TOPIC, type WaveControlMsg } from '../../agent/protocol/wave-control.js'
import { postJson, smallImage, startTestCoordinator, testMachine, tokenFromScript, type TestCoordinator } from '../testing.js'
import type { MemberSource } from './coordinator-view.js'
import type { MeshLink } from './link-mesh-port.js'
import { assignSigningText } from './wave-api.js'

export interface Sent {
  to: string | '*'
  topic: string
  body: Uint8Array
}

/** Members the test sets; the coordinator reads them as its mesh view. */
export class FakeMembers implements MemberSource {
  readonly members = new Map<string, MemberView>()
  view(): MemberView[] {
    return [...this.members.values()]
  }
  set(id: string, patch: Partial<NodeRecordBody> & { status?: MemberView['status'] } = {}): void {
    const { status, ...rec } = patch
    const old = this.members.get(id)
    const record: NodeRecordBody = {
      id,
      key: '00'.repeat(32),
      inc: 0,
      ver: (old?.record?.ver ?? 0) + 1,
      image: 'v1',
      phase: 'ready',
      domain: 'rack-a',
      inv: {},
      health: { status: 'ok', conditions: [] },
      comps: [],
      ...old?.record,
      ...rec,
    }
    this.members.set(id, { id, status: status ?? old?.status ?? 'alive', inc: 0, updatedAt: 0, statusSince: 0, record })
  }
  drop(id: string): void {
    this.members.delete(id)
  }
}

/** Captures what the coordinator sends into the mesh. */
export class CaptureLink implements MeshLink {
  readonly sent: Sent[] = []
  broadcast(topic: string, body: Uint8Array): void {
    this.sent.push({ to: '*', topic, body })
  }
  send(to: string, topic: string, body: Uint8Array): void {
    this.sent.push({ to, topic, body })
  }
  votes(): { to: string; msg: VoteMessage }[] {
    return this.sent.filter((s) => s.topic === VOTE_TOPIC).map((s) => {
      const d = decodeVoteMessage(s.body)
      if (!d.ok) throw new Error(`bad vote bytes: ${d.detail}`)
      return { to: s.to, msg: d.msg }
    })
  }
  controls(): WaveControlMsg[] {
    return this.sent.filter((s) => s.topic === WAVE_CONTROL_TOPIC).map((s) => unpack(s.body) as WaveControlMsg)
  }
  lastControl(): WaveControlMsg | undefined {
    return this.controls().at(-1)
  }
  clear(): void {
    this.sent.length = 0
  }
}

export type Machine = ReturnType<typeof testMachine> & { id: string }

export interface WaveHarness {
  h: TestCoordinator
  members: FakeMembers
  link: CaptureLink
  machines: Machine[]
  admin(path: string, body?: unknown, method?: string): Promise<{ status: number; json: any }>
  /** Signs a vote message with a machine's key and delivers it to the coordinator's VoteNode. */
  deliver(m: Machine, msg: Unsigned<VoteMessage>): Promise<void>
  /** A signed /v1/assign body. */
  assignBody(m: Machine, wave: string, slot: number, term: number): { node: string; wave: string; slot: number; term: number; sig: string }
  close(): Promise<void>
}

/** A coordinator with images v1 and v2, `n` enrolled machines on v1, all seen alive and ready. */
export async function startWaveHarness(n: number, opts: { domains?: string[] } = {}): Promise<WaveHarness> {
  const members = new FakeMembers()
  const link = new CaptureLink()
  const h = await startTestCoordinator({
    images: { v1: smallImage, v2: smallImage },
    config: { defaultImage: 'v1' },
    // No timers in tests: they call service.tick() themselves.
    deps: { waves: { members, link, tickMs: 3_600_000, controlEveryMs: 3_600_000 } },
  })
  const machines: Machine[] = []
  for (let i = 1; i <= n; i++) {
    const m = testMachine(i)
    const script = await (await fetch(`${h.url}/boot/ipxe?mac=${m.mac}`)).text()
    const r = await postJson(`${h.url}/v1/enroll`, m.request(tokenFromScript(script)))
    if (r.status !== 200) throw new Error(`enrollment of machine ${i} failed: ${JSON.stringify(r.json)}`)
    machines.push({ ...m, id: r.json.id })
    members.set(r.json.id, { image: 'v1', domain: opts.domains?.[i - 1] ?? 'rack-a' })
  }
  const admin = async (path: string, body?: unknown, method?: string) => {
    const res = await fetch(`${h.url}${path}`, {
      method: method ?? (body === undefined ? 'GET' : 'POST'),
      headers: { authorization: `Bearer ${h.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    return { status: res.status, json: text ? JSON.parse(text) : undefined }
  }
  return {
    h,
    members,
    link,
    machines,
    admin,
    deliver: (m, msg) => {
      const signed = { ...msg, sig: m.keyring.sign(signingBytes(msg)) } as VoteMessage
      return h.coordinator.waves.service.deliverVote(m.id, encodeVoteMessage(signed))
    },
    assignBody: (m, wave, slot, term) => {
      const fields = { node: m.id, wave, slot, term }
      return { ...fields, sig: Buffer.from(m.keyring.sign(new TextEncoder().encode(assignSigningText(fields)))).toString('hex') }
    },
    close: () => h.close(),
  }
}
