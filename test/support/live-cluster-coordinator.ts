/**
 * The real coordinator for live tests (coordinator/coordinator.ts, in this process, on
 * loopback): its HTTP API (boot scripts, enrollment, roster, the waves API, /v1/assign),
 * its level state in a temp dir, its DHT bootstrap node and its mesh peer, on the real
 * clock. Image versions are small generated directories, as `npm run layers` would leave.
 *
 * What a test does with it is what an operator and a machine do: a machine asks for its
 * boot script (which says which image it boots), enrolls with its key, reads the signed
 * roster; the operator starts waves through POST /v1/waves and reads GET /v1/waves/{id}.
 */
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { freeUdpPort, realClock } from '../../agent/mesh/index.js'
import type { MeshTimingName } from '../../agent/protocol/mesh-config.js'
import { COORDINATOR_MEMBER_ID } from '../../agent/protocol/roster.js'
import type { VoteConfig } from '../../agent/protocol/vote/vote-config.js'
import { bootScriptOf, enrollMachine, type EnrollingMachine, smallImage, startTestCoordinator, type SteppedClock, type TestCoordinator } from '../../coordinator/testing.js'

export interface LiveCoordinatorOptions {
  /** Image versions the coordinator can serve; the first is the default boot image. */
  images: string[]
  vote?: Partial<VoteConfig>
  /** The coordinator's mesh timing (config meshTiming, a name of MESH_TIMINGS), the same the agents run. */
  meshTiming?: MeshTimingName
  /** Every pino line of the coordinator (parsed), e.g. for WAVE_LIVE_LOG. */
  onLog?: (line: Record<string, unknown>) => void
}

export type Machine = EnrollingMachine

/** The real clock, shaped as the harness's SteppedClock (nothing steps it). */
const wallClock: SteppedClock = { now: () => realClock.now(), advance: () => {}, set: () => {} }

export class LiveCoordinator {
  h!: TestCoordinator
  bootstrap = ''
  cluster = ''
  publicKey = ''

  constructor(private readonly o: LiveCoordinatorOptions) {}

  get url(): string {
    return this.h.url
  }

  get adminToken(): string {
    return this.h.adminToken
  }

  async start(): Promise<void> {
    const dhtPort = await freeUdpPort()
    const onLog = this.o.onLog
    const log = onLog
      ? pino(
          { level: 'info' },
          new Writable({
            write(chunk: Buffer, _enc, cb) {
              for (const line of chunk.toString().split('\n')) {
                if (!line) continue
                try {
                  onLog(JSON.parse(line) as Record<string, unknown>)
                } catch {}
              }
              cb()
            },
          }),
        )
      : undefined
    this.h = await startTestCoordinator({
      images: Object.fromEntries(this.o.images.map((v) => [v, smallImage])),
      clock: wallClock,
      config: {
        defaultImage: this.o.images[0]!,
        dhtPort,
        dhtHost: '127.0.0.1',
        bootstrapAdvertise: [`127.0.0.1:${dhtPort}`],
        ...(this.o.meshTiming ? { meshTiming: this.o.meshTiming } : {}),
      },
      deps: {
        ...(log ? { log } : {}),
        // Status bookkeeping every 250 ms and the control message every second: a booted agent learns the wave state within a second.
        waves: { ...(this.o.vote ? { vote: this.o.vote } : {}), tickMs: 250, controlEveryMs: 1000 },
      },
    })
    this.bootstrap = `127.0.0.1:${dhtPort}`
  }

  /** What a machine's PXE boot asks for: its iPXE script, which names the image it boots. */
  bootScript(mac: string): Promise<{ image: string; token: string }> {
    return bootScriptOf(this.url, mac)
  }

  /** Enrolls a machine (its boot script's join token, its key, its fingerprint id). */
  enroll(m: Machine): Promise<void> {
    return enrollMachine(this.url, m)
  }

  /** The signed roster the agents load (every enrolled node plus the coordinator's mesh peer). */
  async roster(): Promise<{ cluster: string; members: { id: string; key: string }[] }> {
    const r = (await (await fetch(`${this.url}/v1/roster`)).json()) as { cluster: string; members: { id: string; key: string }[] }
    this.cluster = r.cluster
    this.publicKey = r.members.find((m) => m.id === COORDINATOR_MEMBER_ID)!.key
    return { cluster: r.cluster, members: r.members }
  }

  /** An admin API call (the waves API); answers { status, json }. */
  async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    })
    const text = await res.text()
    let json: any
    try {
      json = JSON.parse(text)
    } catch {
      json = text
    }
    return { status: res.status, json }
  }

  /** Boot assignments the coordinator granted on lease proof (its audit log), oldest first. */
  async assignments(): Promise<{ node: string; image: string; wave: string; at: number }[]> {
    const r = await this.call('GET', '/v1/admin/audit?kind=boot-assign&limit=1000')
    const entries = (r.json.entries ?? []) as { at: number; node?: string; image?: string; detail?: { wave?: string; refused?: string } }[]
    return entries
      .filter((e) => !e.detail?.refused && e.node && e.image)
      .map((e) => ({ node: e.node!, image: e.image!, wave: e.detail?.wave ?? '', at: e.at }))
      .sort((a, b) => a.at - b.at)
  }

  async close(): Promise<void> {
    await this.h?.close()
  }
}
