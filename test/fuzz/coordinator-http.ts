/**
 * The coordinator fuzzed over real HTTP on loopback: mutated enrollments (with live join
 * tokens, so requests get past the token check), admin and waves bodies with the admin
 * token, odd queries and paths. A 5xx answer is a crash, an answer slower than `hangMs` a
 * hang. Afterwards the data dir is checked offline (`shoal coordinator check`'s code) and
 * the coordinator must start again on it: every problem found is a stored-state corruption.
 */
import fc from 'fast-check'
import { checkStateDir } from '../../coordinator/state-check.js'
import { startTestCoordinator, testMachine, tokenFromScript } from '../../coordinator/testing.js'
import type { FuzzResult } from './fuzz.js'
import { mutationsOf, odd } from './mutate.js'

/** What the HTTP driver counts: the fuzz loop's result (fuzz.ts), for one server rather than one named target. */
export type HttpFuzzResult = Omit<FuzzResult, 'target'>

type Req = { method: string; path: string; body?: string; admin?: boolean; token?: boolean }

const enrollSeed = testMachine(1).request('ab'.repeat(32))

function requests(): fc.Arbitrary<Req> {
  const json = (seed: unknown) => fc.oneof({ weight: 5, arbitrary: mutationsOf(seed).map((v) => JSON.stringify(v) ?? '') }, { weight: 1, arbitrary: fc.string({ maxLength: 100 }) })
  return fc.oneof(
    { weight: 4, arbitrary: json(enrollSeed).map((body) => ({ method: 'POST', path: '/v1/enroll', body, token: true })) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((mac) => ({ method: 'GET', path: `/boot/ipxe?mac=${encodeURIComponent(mac)}` })) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((mac) => ({ method: 'GET', path: `/v1/join-token?mac=${encodeURIComponent(mac)}` })) },
    { weight: 1, arbitrary: json({ requestId: '0123456789abcdef' }).map((body) => ({ method: 'POST', path: '/v1/admin/approve', body, admin: true })) },
    { weight: 1, arbitrary: json({ node: 'node-0001', image: 'v1' }).map((body) => ({ method: 'POST', path: '/v1/admin/assign', body, admin: true })) },
    { weight: 1, arbitrary: json({ mac: '52:54:00:00:00:09', image: 'v1' }).map((body) => ({ method: 'POST', path: '/v1/admin/assign', body, admin: true })) },
    { weight: 1, arbitrary: json({ node: 'node-0009' }).map((body) => ({ method: 'POST', path: '/v1/admin/remove', body, admin: true })) },
    { weight: 1, arbitrary: json({ target: 'v1', maxUnavailable: 1, dryRun: true }).map((body) => ({ method: 'POST', path: '/v1/waves', body, admin: true })) },
    { weight: 1, arbitrary: json({ node: 'node-0001', wave: 'w1', slot: 0, term: 1, sig: 'ab'.repeat(64) }).map((body) => ({ method: 'POST', path: '/v1/assign', body })) },
    { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('limit', 'since', 'kind', 'x'), odd.map((v) => { try { return String(v) } catch { return '[object]' } })).map((q) => ({ method: 'GET', path: `/v1/admin/audit?${new URLSearchParams(q)}`, admin: true })) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD'), fc.constantFrom('/v1/', '/images/', '/v1/admin/', '/v1/waves/', '/v1/roster', '/v1/cluster', '/metrics', '/'), fc.string({ maxLength: 30 })).map(([method, p, rest]) => ({ method, path: p + encodeURI(rest) })),
    },
  )
}

export async function fuzzCoordinatorHttp(numRuns: number, seed: number, hangMs = 2000): Promise<HttpFuzzResult> {
  const h = await startTestCoordinator({ config: { joinTokenBurst: 1_000_000, joinTokensPerMinute: 1_000_000, approval: 'new-fingerprints' } })
  const out: HttpFuzzResult = { inputs: 0, ms: 0, crashes: 0, hangs: 0, corruptions: 0, examples: [] }
  const t0 = performance.now()
  try {
    // Some nodes enrolled, so mutations meet real state (known ids, used tokens, pending requests).
    for (const n of [1, 2]) {
      const m = testMachine(n)
      const script = await (await fetch(`${h.url}/boot/ipxe?mac=${m.mac}`)).text()
      await fetch(`${h.url}/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(m.request(tokenFromScript(script))) })
    }
    const samples = fc.sample(requests(), { numRuns, seed })
    for (const r of samples) {
      out.inputs++
      let body = r.body
      if (r.token && body) {
        // A live token for the body's own MAC half of the time: the request reaches the identity checks.
        const mac = /"mac":"([^"]*)"/.exec(body)?.[1]
        if (mac && out.inputs % 2 === 0) {
          const t = await fetch(`${h.url}/v1/join-token?mac=${encodeURIComponent(mac)}`)
          const tok = t.ok ? ((await t.json()) as { token: string }).token : undefined
          if (tok) body = body.replace(/"token":"[^"]*"/, `"token":"${tok}"`)
        }
      }
      const started = performance.now()
      let status = 0
      try {
        const res = await fetch(`${h.url}${r.path}`, {
          method: r.method,
          headers: { ...(r.admin ? { authorization: `Bearer ${h.adminToken}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined && r.method !== 'GET' && r.method !== 'HEAD' ? { body } : {}),
          signal: AbortSignal.timeout(hangMs * 5),
        })
        status = res.status
        await res.arrayBuffer()
      } catch (err) {
        out.crashes++
        if (out.examples.length < 5) out.examples.push(`${r.method} ${r.path} ${body?.slice(0, 200) ?? ''}: ${(err as Error).message}`)
        continue
      }
      const took = performance.now() - started
      if (took > hangMs) {
        out.hangs++
        if (out.examples.length < 5) out.examples.push(`${r.method} ${r.path} ${body?.slice(0, 200) ?? ''} took ${Math.round(took)} ms (-> ${status})`)
      }
      if (status >= 500) {
        out.crashes++
        if (out.examples.length < 5) out.examples.push(`${r.method} ${r.path} ${body?.slice(0, 300) ?? ''} -> ${status}`)
      }
    }
    out.ms = performance.now() - t0
    await h.coordinator.close()
    const report = await checkStateDir(h.dataDir)
    out.corruptions += report.problems.length
    for (const p of report.problems.slice(0, 5 - out.examples.length)) out.examples.push(`stored state: ${p.key}: ${p.problem}`)
    try {
      await h.restart()
    } catch (err) {
      out.corruptions++
      out.examples.push(`restart failed: ${(err as Error).message}`)
    }
  } finally {
    await h.close()
  }
  return out
}
