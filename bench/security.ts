/**
 * `npm run bench -- security`: what the defences cost.
 * - fuzz: inputs per second of each fuzz target (test/fuzz), a fixed seed and count;
 * - enrollment: enrollments per second through the real coordinator over loopback HTTP
 *   (boot script for a token, then POST /v1/enroll), with stored-state integrity on and
 *   off in the same run, alternating rounds so load from elsewhere hits both alike; the
 *   figure is the ratio on/off (1.0 = free);
 * - store: the same for the state store alone (batches of an enrollment's writes, and
 *   scans reading every node back), where the HMAC is not hidden behind HTTP.
 * One JSON line per figure; the load average is printed with each, since the machine is shared.
 */
import { rm } from 'node:fs/promises'
import { mkdtemp } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fuzzTarget } from '../test/fuzz/fuzz.js'
import { targets } from '../test/fuzz/targets.js'
import { Coordinator } from '../coordinator/coordinator.js'
import { mergeConfig } from '../coordinator/coordinator-config.js'
import { StateStore } from '../coordinator/state-store.js'
import { z } from 'zod'
import { startTestCoordinator, testMachine, tokenFromScript } from '../coordinator/testing.js'

const out = (o: object) => console.log(JSON.stringify({ bench: 'security', ...o, loadavg1: +loadavg()[0]!.toFixed(2) }))

// --- fuzz -------------------------------------------------------------------------------
const FUZZ_RUNS = Number(process.env.SHOAL_BENCH_FUZZ_RUNS ?? 5000)
let fuzzInputs = 0
let fuzzMs = 0
for (const t of targets) {
  const r = fuzzTarget(t, FUZZ_RUNS, 1)
  fuzzInputs += r.inputs
  fuzzMs += r.ms
  out({ figure: 'fuzz-inputs-per-s', target: t.name, inputs: r.inputs, inputsPerSec: Math.round(r.inputs / (r.ms / 1000)), crashes: r.crashes, hangs: r.hangs })
}
out({ figure: 'fuzz-inputs-per-s', target: 'all', inputs: fuzzInputs, inputsPerSec: Math.round(fuzzInputs / (fuzzMs / 1000)) })

// --- enrollment over HTTP, integrity on vs off ------------------------------------------
const ROUNDS = 4
const PER_ROUND = Number(process.env.SHOAL_BENCH_ENROLLMENTS ?? 150)
const h = await startTestCoordinator({ config: { joinTokenBurst: 1_000_000, joinTokensPerMinute: 1_000_000, auditImages: false } })
await h.coordinator.close()
const dirs = { on: join(h.dir, 'data-on'), off: join(h.dir, 'data-off') }
const coordinators = {
  on: new Coordinator(mergeConfig({ dataDir: dirs.on, imagesDir: h.imagesDir, httpPort: 0, dhtPort: -1, bootstrapAdvertise: ['127.0.0.1:49737'], adminToken: h.adminToken, joinTokenBurst: 1_000_000, joinTokensPerMinute: 1_000_000 }), { clock: h.clock, stateIntegrity: true }),
  off: new Coordinator(mergeConfig({ dataDir: dirs.off, imagesDir: h.imagesDir, httpPort: 0, dhtPort: -1, bootstrapAdvertise: ['127.0.0.1:49737'], adminToken: h.adminToken, joinTokenBurst: 1_000_000, joinTokensPerMinute: 1_000_000 }), { clock: h.clock, stateIntegrity: false }),
}
await coordinators.on.start()
await coordinators.off.start()
const ms = { on: 0, off: 0 }
let n = 0
async function enrollRound(which: 'on' | 'off'): Promise<void> {
  const url = coordinators[which].url
  const t0 = performance.now()
  for (let i = 0; i < PER_ROUND; i++) {
    const m = testMachine(++n)
    const script = await (await fetch(`${url}/boot/ipxe?mac=${m.mac}`)).text()
    const r = await fetch(`${url}/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(m.request(tokenFromScript(script))) })
    if (r.status !== 200) throw new Error(`enrollment answered ${r.status}: ${await r.text()}`)
  }
  ms[which] += performance.now() - t0
}
await enrollRound('on') // warm-up of both paths (JIT, level), not counted
await enrollRound('off')
ms.on = ms.off = 0
for (let r = 0; r < ROUNDS; r++) for (const which of r % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const)) await enrollRound(which)
const rate = (w: 'on' | 'off') => (ROUNDS * PER_ROUND) / (ms[w] / 1000)
out({ figure: 'enrollments-per-s', integrity: 'on', value: +rate('on').toFixed(1), enrollments: ROUNDS * PER_ROUND })
out({ figure: 'enrollments-per-s', integrity: 'off', value: +rate('off').toFixed(1), enrollments: ROUNDS * PER_ROUND })
out({ figure: 'enrollment-rate-ratio-integrity-on-vs-off', value: +(rate('on') / rate('off')).toFixed(3) })
await coordinators.on.close()
await coordinators.off.close()

// --- the store alone --------------------------------------------------------------------
const storeDir = await mkdtemp(join(tmpdir(), 'shoal-bench-store-'))
const stores = { on: await StateStore.open(join(storeDir, 'on'), { integrity: true }), off: await StateStore.open(join(storeDir, 'off'), { integrity: false }) }
await stores.on.unlock('ab'.repeat(32))
const node = { id: 'x', key: 'ab'.repeat(32), comps: ['uuid:1', 'disk:2', 'nic:3'], macs: ['52:54:00:00:00:01'], inventory: { cpuCores: 2 }, certificate: { sig: 'cd'.repeat(64) }, n: 0 }
const storeMs = { on: { w: 0, r: 0, reads: 0 }, off: { w: 0, r: 0, reads: 0 } }
const BATCHES = 1500
let seq = 0
async function storeRound(which: 'on' | 'off'): Promise<void> {
  const s = stores[which]
  let t0 = performance.now()
  for (let i = 0; i < BATCHES; i++, seq++) await s.batch([{ type: 'put', key: `node!n${seq}`, value: { ...node, n: seq } }, { type: 'put', key: `mac!${seq}`, value: `n${seq}` }, { type: 'put', key: 'meta!roster', value: { version: seq, issuedAt: seq } }])
  storeMs[which].w += performance.now() - t0
  t0 = performance.now()
  storeMs[which].reads += (await s.scan('node!', z.unknown())).length
  storeMs[which].r += performance.now() - t0
}
await storeRound('on')
await storeRound('off')
for (const k of ['on', 'off'] as const) storeMs[k] = { w: 0, r: 0, reads: 0 }
for (let r = 0; r < 6; r++) for (const which of r % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const)) await storeRound(which)
await stores.on.close()
await stores.off.close()
const on = { writesPerSec: (6 * BATCHES) / (storeMs.on.w / 1000), readsPerSec: storeMs.on.reads / (storeMs.on.r / 1000) }
const off = { writesPerSec: (6 * BATCHES) / (storeMs.off.w / 1000), readsPerSec: storeMs.off.reads / (storeMs.off.r / 1000) }
out({ figure: 'store-enrollment-batches-per-s', integrity: 'on', value: Math.round(on.writesPerSec) })
out({ figure: 'store-enrollment-batches-per-s', integrity: 'off', value: Math.round(off.writesPerSec) })
out({ figure: 'store-batch-ratio-integrity-on-vs-off', value: +(on.writesPerSec / off.writesPerSec).toFixed(3) })
out({ figure: 'store-reads-per-s', integrity: 'on', value: Math.round(on.readsPerSec), off: Math.round(off.readsPerSec), ratio: +(on.readsPerSec / off.readsPerSec).toFixed(3) })
await rm(storeDir, { recursive: true, force: true })
await h.close()
