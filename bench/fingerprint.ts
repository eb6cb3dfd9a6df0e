/**
 * Identity and inventory figures on this machine (`npx tsx bench/fingerprint.ts`), one
 * JSON object per line:
 *   fingerprint.collect-id        read /sys + resolve the id (what the initramfs does)
 *   fingerprint.inventory+id      full inventory (systeminformation child + /sys) and the id, together
 *   fingerprint.cli               `shoal fingerprint -o json` as a process, start to exit
 *   fingerprint.resolve-10k       resolve one machine against 10,000 known fingerprints (index built)
 *   fingerprint.resolve-10k-cold  the same, building the index from the array each time (one-shot boot)
 *   fingerprint.peer-ask-10k      what a rebooting worker pays to ask one peer: GET /v1/fingerprints of an
 *                                 agent API (loopback) holding 10,000 records, parse, merge, resolve
 * Bounded: a few dozen runs, well under 3 minutes.
 */
import { execFile } from 'node:child_process'
import os from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ApiServer } from '../agent/api/api-server.js'
import { fetchPeerFingerprints } from '../agent/boot/peer-client.js'
import { fingerprintMachine, FleetIndex, mergeKnownFingerprints, parseMeshFingerprints, resolveDigest, resolveIdentity, type KnownFingerprint } from '../agent/fingerprint/index.js'
import type { MemberView } from '../agent/protocol/mesh-types.js'
import { collectInventory } from '../agent/inventory/index.js'
import { mutateMachine, SINGLE_PART_MUTATIONS, syntheticMachine } from '../sim/synthetic-machines.js'

const SEED = 4242
const root = join(import.meta.dirname, '..')

function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b)
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!
  return { p50Ms: round(q(0.5)), p90Ms: round(q(0.9)), minMs: round(s[0]!), maxMs: round(s[s.length - 1]!) }
}
const round = (x: number) => Math.round(x * 100) / 100
async function time<T>(n: number, f: () => Promise<T> | T): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await f()
    out.push(performance.now() - t)
  }
  return out
}
/** CPU time of this process per run (wall time on a shared 2-core machine is mostly waiting). */
async function cpu<T>(n: number, f: () => Promise<T> | T): Promise<number> {
  const c = process.cpuUsage()
  for (let i = 0; i < n; i++) await f()
  const d = process.cpuUsage(c)
  return round((d.user + d.system) / 1000 / n)
}
const emit = (o: object) => console.log(JSON.stringify(o))

// 1. This machine.
await fingerprintMachine() // warm the module graph and the page cache
emit({ bench: 'fingerprint.collect-id', n: 20, ...stats(await time(20, () => fingerprintMachine())), cpuMsPerRun: await cpu(20, () => fingerprintMachine()) })
emit({ bench: 'fingerprint.inventory+id', n: 5, ...stats(await time(5, () => Promise.all([collectInventory(), fingerprintMachine()]))) })
const run = promisify(execFile)
emit({ bench: 'fingerprint.cli', n: 3, ...stats(await time(3, () => run(process.execPath, ['bin/shoal.js', 'fingerprint', '-o', 'json'], { cwd: root }))) })

// 2. Resolving against 10,000 known machines (a synthetic fleet with realistic vendor quirks).
const known: KnownFingerprint[] = []
const index = new FleetIndex()
const machines = []
for (let i = 0; i < 10_000; i++) {
  const m = syntheticMachine(i, SEED)
  const r = resolveIdentity(m.components, index)
  index.add({ id: r.id, comps: r.comps })
  known.push({ id: r.id, comps: r.comps })
  if (i % 50 === 0) machines.push(m)
}
// Probe with machines after a part swap (the case that has to search), and fresh ones.
const probes = machines.flatMap((m, i) => [mutateMachine(m, SINGLE_PART_MUTATIONS[i % SINGLE_PART_MUTATIONS.length]!, SEED) ?? m, syntheticMachine(20_000 + i, SEED)])
let matched = 0
const hot: number[] = []
for (const p of probes) {
  const t = performance.now()
  const r = resolveIdentity(p.components, index)
  hot.push(performance.now() - t)
  if (r.decision === 'matched') matched++
}
emit({ bench: 'fingerprint.resolve-10k', known: index.size, n: probes.length, matched, ...stats(hot), cpuMsPerRun: await cpu(probes.length, () => resolveIdentity(probes[hot.length % probes.length]!.components, index)) })
emit({ bench: 'fingerprint.resolve-10k-cold', known: known.length, n: 20, ...stats(await time(20, () => resolveIdentity(probes[0]!.components, known))), cpuMsPerRun: await cpu(5, () => resolveIdentity(probes[0]!.components, known)) })

// 3. A rebooting worker asks one peer that holds 10,000 records.
const view: MemberView[] = known.map((k) => ({
  id: k.id, status: 'dead', inc: 1, updatedAt: 0, statusSince: 0,
  record: { id: k.id, key: 'a'.repeat(64), inc: 1, ver: 1, image: 'v1', phase: 'ready', domain: 'r1', inv: {}, health: { status: 'ok', conditions: [] }, comps: [...k.comps] },
}))
const api = new ApiServer({ source: { selfId: view[0]!.id, startedAt: 0, now: () => 0, view: () => view, counters: () => ({}), on: () => undefined, off: () => undefined } })
const bound = await api.listen(0, '127.0.0.1')
const peerAddress = `${bound.host}:${bound.port}`
const swapped = probes[0]!
const swappedComps = resolveIdentity(swapped.components).comps
let answerBytes = 0
let peerDecision = ''
const ask = async () => {
  const raw = await fetchPeerFingerprints(peerAddress, { timeoutMs: 10_000, maxBytes: 32 * 1024 * 1024 })
  const parsed = parseMeshFingerprints(raw)
  if (!parsed.ok) throw new Error(parsed.detail)
  peerDecision = resolveDigest(swappedComps, mergeKnownFingerprints([parsed.entries])).decision
}
answerBytes = Buffer.byteLength(JSON.stringify(await fetchPeerFingerprints(peerAddress, { timeoutMs: 10_000, maxBytes: 32 * 1024 * 1024 })))
emit({ bench: 'fingerprint.peer-ask-10k', known: view.length, answerBytes, n: 10, ...stats(await time(10, ask)), decision: peerDecision })
await api.close()
emit({ bench: 'fingerprint.load', loadAvg1m: round(os.loadavg()[0]!), cpus: os.cpus().length })
