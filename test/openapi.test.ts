/**
 * One true API description per server: the agent's and the coordinator's OpenAPI 3.1
 * documents (built from the zod schemas the servers answer with, served at /openapi.json)
 * pass @apidevtools/swagger-parser, and every documented route is called on a live server
 * (real agents over hyperswarm on loopback; a real coordinator running a wave) with its
 * answer validated by ajv against the document — status, media type and body. A route added
 * to a server but not to its description, or an answer that drifts from it, fails here.
 */
import { randomBytes } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import SwaggerParser from '@apidevtools/swagger-parser'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningAgent } from '../agent/main.js'
import { testMachine, tokenFromScript } from '../coordinator/testing.js'
import { startWaveHarness, type WaveHarness } from '../coordinator/waves/wave-testing.js'
import { syntheticIdentity } from '../sim/synthetic-machines.js'
import { jsonSchema } from '../agent/http/openapi-builder.js'
import { HaveAnswer } from '../agent/protocol/layer-chunks.js'
import { InProcessCluster, untilAlive } from './support/in-process-cluster.js'

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>> }

/** Validates live answers against one document and records which operations were covered. */
class Checker {
  readonly covered = new Set<string>()
  private readonly ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: false })
  constructor(
    readonly doc: Doc,
    readonly base: string,
  ) {}

  operations(): string[] {
    return Object.entries(this.doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
  }

  /** Calls `method url` (a concrete path) as documented at `template`, and validates the answer. */
  async call(method: 'GET' | 'POST', template: string, url: string, opts: { body?: unknown; headers?: Record<string, string>; expect?: number } = {}): Promise<{ status: number; json: any; text: string }> {
    const res = await fetch(`${this.base}${url}`, {
      method,
      headers: { ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }), ...opts.headers },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: AbortSignal.timeout(15_000),
    })
    const text = await res.text()
    const where = `${method} ${url} -> ${res.status}`
    if (opts.expect !== undefined) expect(res.status, `${where}: ${text.slice(0, 300)}`).toBe(opts.expect)
    const op = this.doc.paths[template]?.[method.toLowerCase()]
    expect(op, `${method} ${template} is documented`).toBeDefined()
    const resp = op!.responses[String(res.status)]
    expect(resp, `${where}: status ${res.status} is documented for ${method} ${template}`).toBeDefined()
    const media = Object.keys(resp!.content ?? {})
    let json: any
    if (media.length === 0) expect(text, `${where}: documented without a body`).toBe('')
    else {
      const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim()
      expect(media, `${where}: media type ${type} documented`).toContain(type)
      if (type === 'application/json') {
        json = JSON.parse(text)
        const validate = this.ajv.compile(resp!.content![type]!.schema)
        expect(validate(json), `${where}: ${this.ajv.errorsText(validate.errors)}\n${text.slice(0, 500)}`).toBe(true)
      }
    }
    this.covered.add(`${method} ${template}`)
    return { status: res.status, json, text }
  }

  /** Validates a JSON body obtained another way (a refused WebSocket upgrade) and counts the operation covered. */
  validateBody(method: string, template: string, status: number, value: unknown): void {
    this.validateLine(method, template, status, 'application/json', value)
    this.covered.add(`${method} ${template}`)
  }

  /** Validates one value (an NDJSON line) against a documented non-JSON body's schema. */
  validateLine(method: string, template: string, status: number, type: string, value: unknown): void {
    const schema = this.doc.paths[template]![method.toLowerCase()]!.responses[String(status)]!.content![type]!.schema
    const validate = this.ajv.compile(schema)
    expect(validate(value), `${template} line: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 300)}`).toBe(true)
  }
}

async function lint(doc: unknown): Promise<void> {
  await SwaggerParser.validate(structuredClone(doc) as never)
}

describe('agent API description', () => {
  let cluster: InProcessCluster
  const agents: RunningAgent[] = []
  const machines = [0, 1].map((i) => syntheticIdentity(i))

  beforeAll(async () => {
    cluster = await InProcessCluster.create('openapi', machines.map((m) => ({ id: m.id })))
    for (const [i, m] of machines.entries()) {
      // The first agent serves its inventory; the second has collection off (501, and 502 when forwarded).
      agents.push(await cluster.start(i, { image: 'v1', domain: 'r1', comps: m.comps }, i === 0 ? { inventory: { collect: async () => m.machine.inventory } } : {}))
    }
    // Both see each other alive (event stream, with a deadline).
    await untilAlive(agents[0]!, 2, 60_000)
  }, 90_000)

  afterAll(() => cluster?.close(), 30_000)

  it('is valid OpenAPI 3.1 and every route answers as documented', async () => {
    const [a, b] = agents as [RunningAgent, RunningAgent]
    const doc = (await (await fetch(`http://${a.api}/openapi.json`)).json()) as Doc & { openapi: string }
    expect(doc.openapi).toBe('3.1.0')
    await lint(doc)
    const c = new Checker(doc, `http://${a.api}`)
    await c.call('GET', '/openapi.json', '/openapi.json', { expect: 200 })
    await c.call('GET', '/v1/cluster', '/v1/cluster', { expect: 200 })
    await c.call('GET', '/v1/nodes', '/v1/nodes', { expect: 200 })
    await c.call('GET', '/v1/nodes/{id}', `/v1/nodes/${b.id}`, { expect: 200 })
    await c.call('GET', '/v1/nodes/{id}', '/v1/nodes/no-such-node', { expect: 404 })
    await c.call('GET', '/v1/nodes/{id}', '/v1/nodes/bad%20id', { expect: 400 })
    await c.call('GET', '/v1/nodes/{id}/inventory', `/v1/nodes/${a.id}/inventory`, { expect: 200 })
    await c.call('GET', '/v1/nodes/{id}/inventory', `/v1/nodes/${b.id}/inventory`, { expect: 502 })
    await new Checker(doc, `http://${b.api}`).call('GET', '/v1/nodes/{id}/inventory', `/v1/nodes/${b.id}/inventory`, { expect: 501 })
    const fp = await c.call('GET', '/v1/fingerprints', '/v1/fingerprints', { expect: 200 })
    expect(fp.json).toHaveLength(2)
    const self = await c.call('GET', '/v1/self', '/v1/self', { expect: 200 })
    expect(self.json.software.version).toMatch(/^\d+\.\d+\.\d+/)
    await c.call('GET', '/metrics', '/metrics', { expect: 200 })
    await c.call('GET', '/', '/', { expect: 200 })
    await c.call('GET', '/v1/shells', '/v1/shells', { expect: 200 })
    // Layer chunks: these agents booted without chunk sharing, so they serve none (a booting worker drops them).
    await c.call('GET', '/v1/layers/{version}/have', '/v1/layers/v1/have?after=-1', { expect: 404 })
    await c.call('GET', '/v1/layers/{version}/{file}', '/v1/layers/v1/base.squashfs', { headers: { range: 'bytes=0-1048575' }, expect: 404 })
    expect(doc.paths['/v1/layers/{version}/have']!.get!.responses['200']!.content!['application/json']!.schema).toEqual(jsonSchema(HaveAnswer))
    // The shell: a WebSocket upgrade without a grant is refused with a documented JSON error.
    const refused = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      const req = httpRequest(`http://${a.api}/v1/shell`, { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64'), 'sec-websocket-protocol': 'v5.channel.k8s.io' } })
      req.on('response', (res) => {
        let body = ''
        res.on('data', (d: Buffer) => (body += d.toString()))
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }))
      })
      req.on('upgrade', () => reject(new Error('upgraded without a grant')))
      req.on('error', reject)
      req.end()
    })
    expect(refused.status).toBe(403)
    expect(refused.type).toMatch(/^application\/json/)
    c.validateBody('GET', '/v1/shell', 403, JSON.parse(refused.body))
    // The watch stream: the first line (a snapshot) and a heartbeat-free read of what follows.
    const ctl = new AbortController()
    const res = await fetch(`http://${a.api}/v1/watch`, { signal: ctl.signal })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/)
    const reader = res.body!.getReader()
    let buf = ''
    while (!buf.includes('\n')) buf += new TextDecoder().decode((await reader.read()).value)
    const first = JSON.parse(buf.slice(0, buf.indexOf('\n')))
    expect(first.type).toBe('snapshot')
    c.validateLine('GET', '/v1/watch', 200, 'application/x-ndjson', first)
    c.covered.add('GET /v1/watch')
    ctl.abort()
    expect([...c.covered].sort()).toEqual(c.operations().sort())
  }, 60_000)
})

describe('coordinator API description', () => {
  let w: WaveHarness
  beforeAll(async () => {
    w = await startWaveHarness(2)
  })
  afterAll(() => w?.close())

  it('is valid OpenAPI 3.1 and every route answers as documented', async () => {
    const doc = (await (await fetch(`${w.h.url}/openapi.json`)).json()) as Doc & { openapi: string }
    expect(doc.openapi).toBe('3.1.0')
    await lint(doc)
    const c = new Checker(doc, w.h.url)
    const admin = { authorization: `Bearer ${w.h.adminToken}` }
    const [m1] = w.machines as [WaveHarness['machines'][number]]

    await c.call('GET', '/openapi.json', '/openapi.json', { expect: 200 })
    await c.call('GET', '/healthz', '/healthz', { expect: 200 })
    await c.call('GET', '/metrics', '/metrics', { expect: 200 })
    // boot and enrollment
    const fresh = testMachine(9)
    const script = await c.call('GET', '/boot/ipxe', `/boot/ipxe?mac=${fresh.mac}`, { expect: 200 })
    await c.call('GET', '/boot/ipxe', '/boot/ipxe', { expect: 400 })
    await c.call('GET', '/v1/join-token', `/v1/join-token?mac=${fresh.mac}`, { expect: 200 })
    await c.call('GET', '/v1/join-token', '/v1/join-token?mac=nope', { expect: 400 })
    const token = tokenFromScript(script.text)
    await c.call('POST', '/v1/enroll', '/v1/enroll', { body: fresh.request(token), expect: 200 })
    await c.call('POST', '/v1/enroll', '/v1/enroll', { body: fresh.request('0'.repeat(64)), expect: 403 })
    await c.call('POST', '/v1/enroll', '/v1/enroll', { body: { v: 1 }, expect: 400 })
    const roster = await fetch(`${w.h.url}/v1/roster`)
    await c.call('GET', '/v1/roster', '/v1/roster', { expect: 200 })
    await c.call('GET', '/v1/roster', '/v1/roster', { headers: { 'if-none-match': roster.headers.get('etag')! }, expect: 304 })
    await c.call('GET', '/v1/cluster', '/v1/cluster', { expect: 200 })
    const manifest = await c.call('GET', '/images/{version}/manifest', '/images/v1/manifest', { expect: 200 })
    const file = manifest.json.files[0].name as string
    await c.call('GET', '/images/{version}/{file}', `/images/v1/${file}`, { expect: 200 })
    await c.call('GET', '/images/{version}/{file}', `/images/v1/${file}`, { headers: { range: 'bytes=0-9' }, expect: 206 })
    await c.call('GET', '/images/{version}/{file}', '/images/v1/no-such-file', { expect: 404 })
    const chunked = await c.call('GET', '/images/{version}/manifest', '/images/v1/manifest?chunks=1', { expect: 200 })
    expect(chunked.json.files.some((f: { chunks?: unknown }) => f.chunks)).toBe(true)
    await c.call('GET', '/v1/layer-peers', '/v1/layer-peers?image=v1&self=127.0.0.1:7400', { expect: 200 })
    // A chunk handed out twice to live workers: a third asker is sent to them.
    const layer = (manifest.json.files as { name: string; size: number }[]).find((f) => f.name.endsWith('.squashfs'))!
    const last = Math.min(layer.size, 1048576) - 1
    for (const peer of ['127.0.0.1:7401', '127.0.0.1:7402']) await c.call('GET', '/images/{version}/{file}', `/images/v1/${layer.name}`, { headers: { range: `bytes=0-${last}`, 'x-shoal-chunk-peer': peer }, expect: 206 })
    await c.call('GET', '/images/{version}/{file}', `/images/v1/${layer.name}`, { headers: { range: `bytes=0-${last}`, 'x-shoal-chunk-peer': '127.0.0.1:7403' }, expect: 429 })
    // waves
    await c.call('GET', '/v1/waves', '/v1/waves', { expect: 401 })
    await c.call('POST', '/v1/waves', '/v1/waves', { body: { target: 'v2', dryRun: true }, headers: admin, expect: 200 })
    const started = await c.call('POST', '/v1/waves', '/v1/waves', { body: { target: 'v2' }, headers: admin, expect: 201 })
    const id = started.json.id as string
    await c.call('GET', '/v1/waves', '/v1/waves', { headers: admin, expect: 200 })
    await c.call('GET', '/v1/waves/{id}', `/v1/waves/${id}`, { headers: admin, expect: 200 })
    await c.call('GET', '/v1/waves/{id}', '/v1/waves/w999', { headers: admin, expect: 404 })
    await c.call('POST', '/v1/assign', '/v1/assign', { body: w.assignBody(m1, id, 0, 1), expect: 403 })
    await c.call('POST', '/v1/assign', '/v1/assign', { body: { node: 'x' }, expect: 400 })
    await c.call('POST', '/v1/waves/{id}/force-release', `/v1/waves/${id}/force-release`, { body: { node: m1.id }, headers: admin, expect: 404 })
    await c.call('POST', '/v1/waves/{id}/pause', `/v1/waves/${id}/pause`, { headers: admin, expect: 200 })
    await c.call('POST', '/v1/waves/{id}/resume', `/v1/waves/${id}/resume`, { headers: admin, expect: 200 })
    await c.call('POST', '/v1/waves/{id}/abort', `/v1/waves/${id}/abort`, { headers: admin, expect: 200 })
    await c.call('POST', '/v1/waves/{id}/rollback', `/v1/waves/${id}/rollback`, { headers: admin })
    // admin
    await c.call('GET', '/v1/admin/nodes', '/v1/admin/nodes', { headers: admin, expect: 200 })
    await c.call('GET', '/v1/admin/nodes', '/v1/admin/nodes', { expect: 401 })
    await c.call('GET', '/v1/admin/pending', '/v1/admin/pending', { headers: admin, expect: 200 })
    await c.call('POST', '/v1/admin/approve', '/v1/admin/approve', { body: { requestId: '0123456789abcdef' }, headers: admin, expect: 404 })
    await c.call('POST', '/v1/admin/reject', '/v1/admin/reject', { body: { requestId: 'zz' }, headers: admin, expect: 400 })
    await c.call('POST', '/v1/admin/assign', '/v1/admin/assign', { body: { node: m1.id, image: 'v2' }, headers: admin, expect: 200 })
    await c.call('POST', '/v1/admin/remove', '/v1/admin/remove', { body: { node: w.machines[1]!.id }, headers: admin, expect: 200 })
    await c.call('GET', '/v1/admin/retired', '/v1/admin/retired', { headers: admin, expect: 200 })
    await c.call('POST', '/v1/admin/forget-retired', '/v1/admin/forget-retired', { body: { node: w.machines[1]!.id }, headers: admin, expect: 404 })
    await c.call('POST', '/v1/admin/forget-retired', '/v1/admin/forget-retired', { body: { node: 'bad id' }, headers: admin, expect: 400 })
    await c.call('POST', '/v1/admin/operators', '/v1/admin/operators', { body: { name: 'ada', key: 'ab'.repeat(32) }, headers: admin, expect: 200 })
    await c.call('GET', '/v1/admin/operators', '/v1/admin/operators', { headers: admin, expect: 200 })
    await c.call('POST', '/v1/admin/operators/remove', '/v1/admin/operators/remove', { body: { name: 'ada' }, headers: admin, expect: 200 })
    const backup = await c.call('GET', '/v1/admin/backup', '/v1/admin/backup', { headers: admin, expect: 200 })
    for (const line of backup.text.split('\n').filter(Boolean)) c.validateLine('GET', '/v1/admin/backup', 200, 'application/x-ndjson', JSON.parse(line))
    await c.call('GET', '/v1/admin/audit', '/v1/admin/audit?limit=5', { headers: admin, expect: 200 })
    await c.call('GET', '/v1/admin/audit', '/v1/admin/audit?limit=0', { headers: admin, expect: 400 })
    // node verbs (the rollback wave still runs: a verb waits for it)
    await c.call('GET', '/v1/nodes/held', '/v1/nodes/held', { headers: admin, expect: 200 })
    await c.call('GET', '/v1/nodes/held', '/v1/nodes/held', { expect: 401 })
    await c.call('POST', '/v1/nodes/{id}/maintenance', `/v1/nodes/${m1.id}/maintenance`, { body: { on: true }, headers: admin, expect: 409 })
    await c.call('POST', '/v1/nodes/{id}/maintenance', `/v1/nodes/${m1.id}/maintenance`, { body: { on: 'yes' }, headers: admin, expect: 400 })
    await c.call('POST', '/v1/nodes/{id}/reboot', '/v1/nodes/no-such-node/reboot', { body: {}, headers: admin, expect: 404 })
    await c.call('POST', '/v1/nodes/{id}/shutdown', `/v1/nodes/${m1.id}/shutdown`, { body: { x: 1 }, headers: admin, expect: 400 })
    await c.call('POST', '/v1/nodes/{id}/decommission', `/v1/nodes/${m1.id}/decommission`, { body: {}, headers: admin, expect: 409 })
    await c.call('POST', '/v1/nodes/{id}/decommission', `/v1/nodes/${m1.id}/decommission`, { body: { returning: 'never' }, headers: admin, expect: 400 })
    expect([...c.covered].sort()).toEqual(c.operations().sort())
  }, 60_000)
})
