/**
 * Per-frame costs of the mesh's receive path (`npx tsx bench/decode.ts`), one JSON object
 * per line, ns per operation (median of 7 timed batches after a warm-up):
 *   decode.<type>          decodeMessage of a typical frame of that type (bytes -> typed message)
 *   decode.record-open     openRecord of a record not seen before: decode its body, schema, verify
 *   decode.record-head+open  what MeshNode pays for a new record: recordHead then openRecord
 *   decode.verify          ed25519Verify with a member key already imported
 *   decode.verify-new-key  ed25519Verify with a key seen for the first time (its import included)
 * Pure CPU, one process; a few seconds.
 */
import { generateKeyPairSync, sign } from 'node:crypto'
import { ed25519Keyring, ed25519Verify } from '../agent/protocol/ed25519.js'
import { decodeMessage, encodeMessage, type OutMessage } from '../agent/protocol/messages.js'
import { openRecord, signRecord, type NodeRecordBody } from '../agent/protocol/node-record.js'
import { recordHead } from '../agent/protocol/record-head.js'

const emit = (obj: object) => process.stdout.write(JSON.stringify(obj) + '\n')

function nsPerOp(name: string, ops: number, f: (i: number) => unknown): void {
  for (let i = 0; i < ops; i++) f(i)
  const runs: number[] = []
  for (let r = 0; r < 7; r++) {
    const t = process.hrtime.bigint()
    for (let i = 0; i < ops; i++) f(i)
    runs.push(Number(process.hrtime.bigint() - t) / ops)
  }
  runs.sort((a, b) => a - b)
  emit({ bench: `decode.${name}`, nsPerOp: Math.round(runs[3]!), minNs: Math.round(runs[0]!), ops })
}

const keyrings = Array.from({ length: 50 }, (_, i) => ed25519Keyring(new Uint8Array(32).fill(i + 1)))
function body(i: number, ver = 1): NodeRecordBody {
  return {
    id: `node-${i}`,
    key: keyrings[i % keyrings.length]!.publicKey,
    inc: 1,
    ver,
    image: 'shoal-2026.12.1',
    phase: 'ready',
    domain: `rack-${i % 4}`,
    api: `10.0.0.${i}:7080`,
    inv: { cpuCores: 16, memBytes: 64e9, disks: 4, nics: 2 } as never,
    health: { status: 'ok', kubeletReady: true, osdsUp: 4, osdsTotal: 4, conditions: [], gates: { pre: true, post: true, at: 1_700_000_000_000, preWith: [] } },
    comps: ['disk:0123456789abcdef', 'nic:fedcba9876543210', 'board:00112233'],
    work: { pods: 12, load: 0.5 },
  }
}
const records = Array.from({ length: 50 }, (_, i) => signRecord(body(i), keyrings[i]!).signed)
const ids = Array.from({ length: 50 }, (_, i) => `node-${i}`)

const frames: Record<string, OutMessage> = {
  ping: { t: 'ping', seq: 17 },
  ack: { t: 'ack', seq: 17 },
  'gossip-rec': { t: 'gossip', h: 2, u: { k: 'rec', rec: records[3]! } },
  ihave: { t: 'ihave', ids: ids.map((id) => `r:${id}:1:5`) },
  'ae-sum': { t: 'ae-sum', b: new Uint8Array(256) },
  'ae-dig': { t: 'ae-dig', buckets: [1, 5, 9], e: ids.map((id, i) => [id, 1, i, 0, 1] as [string, number, number, number, number]), reply: true },
  'ae-delta': { t: 'ae-delta', u: records.slice(0, 10).map((rec) => ({ k: 'rec' as const, rec })) },
}
for (const [name, msg] of Object.entries(frames)) {
  const bytes = encodeMessage(msg)
  if (!decodeMessage(bytes).ok) throw new Error(`bench frame ${name} does not decode`)
  nsPerOp(name, name === 'ae-delta' || name === 'ae-dig' ? 2_000 : 20_000, () => decodeMessage(bytes))
}

// Fresh records each call (openRecord caches by signature): re-sign bodies with new versions up front.
const fresh = (n: number, from: number) => Array.from({ length: n }, (_, i) => signRecord(body(i % 50, from + i), keyrings[i % 50]!).signed)
const openOnly = fresh(2_000 * 8, 1_000)
let k = 0
nsPerOp('record-open', 2_000, () => openRecord(openOnly[k++]!, keyrings[0]!))
const headOpen = fresh(2_000 * 8, 100_000)
k = 0
nsPerOp('record-head+open', 2_000, () => {
  const rec = headOpen[k++]!
  recordHead({ k: 'rec', rec })
  return openRecord(rec, keyrings[0]!)
})
const data = new Uint8Array(300).fill(7)
const sigs = keyrings.map((kr) => kr.sign(data))
nsPerOp('verify', 2_000, (i) => ed25519Verify(keyrings[i % 50]!.publicKey, data, sigs[i % 50]!))

// A new key per call: the first record of each member pays the key's import.
const newKeys = Array.from({ length: 8 * 200 }, () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  return { hex: Buffer.from(publicKey.export({ format: 'der', type: 'spki' })).subarray(12).toString('hex'), sig: new Uint8Array(sign(null, data, privateKey)) }
})
k = 0
nsPerOp('verify-new-key', 200, () => {
  const nk = newKeys[k++]!
  return ed25519Verify(nk.hex, data, nk.sig)
})
