/**
 * What `npm run fuzz` throws inputs at: every parser at the edge of a process. Each
 * target is an arbitrary (random bytes/text, and one-step mutations of real samples) and
 * a `run` that feeds one input to the production code exactly as the edge does. The rule
 * every target checks: bad input ends in a result that says why (a `{ ok: false }`, a
 * counted drop, a ShoalError with a message) — never another exception (a crash).
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { ed25519Keyring } from '../../agent/protocol/ed25519.js'
import { ShoalError } from '../../agent/protocol/errors.js'
import { FrameDecoder, MAX_FRAME_BYTES, encodeFrame, pack } from '../../agent/protocol/frame.js'
import { decodeMessage } from '../../agent/protocol/messages.js'
import { openRecord, signRecord, type NodeRecordBody } from '../../agent/protocol/node-record.js'
import { decodeVoteMessage, encodeVoteMessage } from '../../agent/protocol/vote/vote-codec.js'
import { WaveGate, signControl, type UnsignedControl } from '../../agent/protocol/wave-control.js'
import { parseMeshFingerprints } from '../../agent/fingerprint/mesh-fingerprints.js'
import { parseJsonWith } from '../../agent/health/parse-output.js'
import { CephHealth, CephOkToStop, CephOsdDump, CephOsdTree, CephStatus } from '../../agent/health/ceph-schemas.js'
import { cephFacts } from '../../agent/health/ceph-facts.js'
import { osdsUnder } from '../../agent/health/ceph-probe.js'
import { raw as cephRaw } from '../../agent/health/testdata/fixtures.js'
import { KubeNode, KubePdb, KubePod, KubeStatus, listOf } from '../../agent/health/kube-schemas.js'
import { kubeconfigFromText } from '../../agent/health/kube-config.js'
import { resolveAgentConfig } from '../../agent/config.js'
import { AssignRequest, AuditQuery, DecideRequest, RemoveRequest } from '../../coordinator/admin-api.js'
import { mergeConfig, parseConfigFile } from '../../coordinator/coordinator-config.js'
import { EnrollRequest } from '../../agent/protocol/enroll/index.js'
import { parseMeshParam, parsePeersParam, parseUpgradeParam, formatBootParams, parseBootParams } from '../../agent/protocol/kernel-params/index.js'
import { HttpError, validate } from '../../agent/http/index.js'
import { AssignLeaseRequest, ForceReleaseRequest, WaveCreate } from '../../coordinator/waves/wave-api.js'
import { testMachine } from '../../coordinator/testing.js'
import { byteMutationsOf, mutationsOf, mutationsOfAny, textMutationsOf } from './mutate.js'

export interface FuzzTarget {
  name: string
  /** What the inputs are. */
  arbitrary: fc.Arbitrary<unknown>
  /** Feeds one input; throws only on a crash (an exception the edge does not turn into an answer). */
  run(input: unknown): void
}

/** Errors that are answers: ShoalError (with its code and message) and the HTTP edge's HttpError. */
export function isAnswer(err: unknown): boolean {
  return err instanceof ShoalError || err instanceof HttpError
}

const keyring = ed25519Keyring(new Uint8Array(32).fill(7))
const peer = ed25519Keyring(new Uint8Array(32).fill(9))
const sig = new Uint8Array(64).fill(1)
const body = new Uint8Array([1, 2, 3, 4])

const recordBody: NodeRecordBody = {
  id: 'node-a',
  key: peer.publicKey,
  inc: 3,
  ver: 12,
  image: 'v1',
  phase: 'ready',
  domain: 'rack-1',
  api: '10.0.0.11:7400',
  inv: { vendor: 'QEMU', cpuCores: 2, memoryBytes: 2 ** 31 },
  health: { status: 'ok', kubeletReady: true, osdsUp: 2, osdsTotal: 2, conditions: [{ id: 'c', severity: 'info', since: 1, message: 'm', source: 'kubelet' }] },
  comps: ['uuid:abc', 'disk:def'],
  work: { pods: 3, load: 0.5 },
}
const signed = signRecord(recordBody, peer).signed

/** One valid sample of every mesh message type. */
const meshSamples: unknown[] = [
  { v: 1, t: 'ping', seq: 1 },
  { v: 1, t: 'ack', seq: 1 },
  { v: 1, t: 'ping-req', seq: 2, target: 'node-b' },
  { v: 1, t: 'nack', seq: 2 },
  { v: 1, t: 'gossip', h: 1, u: { k: 'rec', rec: signed } },
  { v: 1, t: 'gossip', h: 2, u: { k: 'claim', about: 'node-b', inc: 1, status: 'suspect', by: 'node-a', sig } },
  { v: 1, t: 'gossip', h: 0, u: { k: 'app', origin: 'node-a', seq: 1700000000000, topic: 'vote', to: 'node-c', body, sig } },
  { v: 1, t: 'ihave', ids: ['rec/node-a/3/12', 'claim/node-b/1'] },
  { v: 1, t: 'graft', ids: ['rec/node-a/3/12'] },
  { v: 1, t: 'prune' },
  { v: 1, t: 'bye' },
  { v: 1, t: 'ae-sum', b: new Uint8Array(256).fill(3) },
  { v: 1, t: 'ae-dig', buckets: [1, 7], e: [['node-a', 3, 12, 0, 3]], reply: true },
  { v: 1, t: 'ae-delta', u: [{ k: 'rec', rec: signed }] },
  { v: 1, t: 'app', topic: 'vote', body },
]

const head = { wave: 'w1', slot: 0, term: 1 }
const waveMsg = { k: 'wave', v: 1, id: 'w1', target: 'v2', slots: 1, policy: 'rank', roster: [{ id: 'node-a', key: peer.publicKey }], coord: { id: 'coordinator', key: keyring.publicKey }, startedAt: 1000, sig }
const voteSamples: unknown[] = [
  waveMsg,
  { k: 'req', ...head, cand: 'node-a', sig },
  { k: 'vote', ...head, voter: 'node-b', cand: 'node-a', sig },
  { k: 'nack', ...head, voter: 'node-b', cand: 'node-a', reason: 'promised', other: { term: 1, cand: 'node-c' }, sig },
  { k: 'grant', ...head, holder: 'node-a', votes: 2, sig },
  { k: 'rel', ...head, holder: 'node-a', sig },
  { k: 'wd', ...head, cand: 'node-a', leader: 'node-b', sig },
  { k: 'force', ...head, by: 'coordinator', sig },
  { k: 'retire', wave: 'w1', node: 'node-a', by: 'coordinator', sig },
  { k: 'sync?', wave: '*', from: 'node-a', nonce: 5, sig },
  { k: 'sync', wave: 'w1', from: 'node-a', to: 'node-b', nonce: 5, complete: true, waveMsg, promises: [{ slot: 0, term: 1, cand: 'node-a', own: true }], grants: [{ slot: 0, term: 1, holder: 'node-a' }], retires: [], terms: [{ slot: 0, term: 1 }], sig },
  { k: 'query', ...head, from: 'node-b', sig },
]

const control: UnsignedControl = { wave: 'w1', seq: 3, state: 'running', nodeTimeoutMs: 60_000, window: { fromMinute: 60, toMinute: 240 }, alerts: ['NodeDown'], drainPolicy: 'halt', retired: ['node-c'] }

const machine = testMachine(1)
const enrollSample = machine.request('ab'.repeat(32), { inventoryDetail: { disks: [{ name: 'vda', size: 1 }] } })

const bootLine = `initrd=initramfs.img console=ttyS0 ${formatBootParams({ coordinator: 'http://10.0.0.1:8080', token: 'ab'.repeat(32), mac: '52:54:00:00:00:01', bootstrap: ['10.0.0.1:49737'], image: 'v1', cluster: 'shoal-1', clusterKey: keyring.publicKey })} shoal.mesh=probeIntervalMs:500,probeTimeoutMs:1000 shoal.peers=10.0.0.11:7400,10.0.0.12:7400 shoal.upgrade=1`

const kubeconfigSample = {
  apiVersion: 'v1',
  'current-context': 'c',
  clusters: [{ name: 'k', cluster: { server: 'https://10.0.0.1:6443', 'certificate-authority-data': Buffer.from('ca').toString('base64') } }],
  users: [{ name: 'u', user: { token: 'abc' } }],
  contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
}
const kubeDir = mkdtempSync(join(tmpdir(), 'shoal-fuzz-kube-'))

const kubeNodeSample = { metadata: { name: 'node-a', labels: { a: 'b' }, annotations: {} }, spec: { unschedulable: false, taints: [] }, status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ok', lastTransitionTime: '2026-01-01T00:00:00Z' }] } }
const kubePodSample = { metadata: { name: 'p', namespace: 'default', ownerReferences: [{ kind: 'ReplicaSet', name: 'r', controller: true }], annotations: {} }, spec: { nodeName: 'node-a' }, status: { phase: 'Running' } }

const cephText = (name: string): unknown => JSON.parse(cephRaw(name))
const cephBase = {
  host: 'node-a',
  status: CephStatus.parse(cephText('status_ok')),
  health: CephHealth.parse(cephText('health_ok')),
  tree: CephOsdTree.parse(cephText('osd_tree')),
  dump: CephOsdDump.parse(cephText('osd_dump')),
}

/** Strings that look like what a parser expects, and strings that do not. */
const cmdline = fc.oneof(textMutationsOf(bootLine).map((t) => t.replace(/^"|"$/g, '')), fc.string({ maxLength: 300 }), fc.array(fc.constantFrom('shoal.mesh=', 'shoal.peers=', 'shoal.upgrade=', 'shoal.token=', 'shoal.bootstrap=', ':', ',', '=', ' ', 'a', '1', '10.0.0.1:7400', 'probeTimeoutMs'), { maxLength: 30 }).map((a) => a.join('')))

function jsonText(seed: unknown): fc.Arbitrary<string> {
  return fc.oneof({ weight: 4, arbitrary: textMutationsOf(seed) }, { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) }, { weight: 1, arbitrary: fc.string({ maxLength: 200 }) })
}

export const targets: FuzzTarget[] = [
  {
    name: 'frame-decoder',
    // A stream cut at random places: frames of random and real bodies, and garbage.
    arbitrary: fc.array(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(...meshSamples).map((m) => encodeFrame(pack(m))), fc.constant(Uint8Array.from([0xff, 0xff, 0xff, 0xff]))), { maxLength: 8 }),
    run(input) {
      const d = new FrameDecoder(4096)
      for (const chunk of input as Uint8Array[]) for (const f of d.push(chunk)) if (f.length > 4096) throw new Error(`frame of ${f.length} bytes passed a 4096-byte decoder`)
    },
  },
  {
    name: 'mesh-message-bytes',
    arbitrary: fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.constantFrom(...meshSamples).chain((m) => byteMutationsOf(pack(m)))),
    run(input) {
      const r = decodeMessage(input as Uint8Array)
      if (!r.ok && !r.reason) throw new Error('a drop without a reason')
    },
  },
  {
    name: 'mesh-message-fields',
    arbitrary: mutationsOfAny(meshSamples),
    run(input) {
      let bytes: Uint8Array
      try {
        bytes = pack(input)
      } catch {
        return // not encodable by msgpack: cannot come from a peer
      }
      const r = decodeMessage(bytes)
      // A record that passes the frame schema is opened as the mesh does.
      if (r.ok && r.msg.t === 'gossip' && r.msg.u.k === 'rec') openRecord(r.msg.u.rec, peer)
      if (r.ok && r.msg.t === 'ae-delta') for (const u of r.msg.u) if (u.k === 'rec') openRecord(u.rec, peer)
    },
  },
  {
    name: 'node-record',
    arbitrary: fc.oneof(
      mutationsOf(recordBody).map((b) => {
        try {
          const bytes = pack(b)
          return { body: bytes, sig: peer.sign(bytes) }
        } catch {
          return signed
        }
      }),
      byteMutationsOf(signed.body).map((b) => ({ body: b, sig: signed.sig })),
    ),
    run(input) {
      openRecord(input as typeof signed, peer)
    },
  },
  {
    name: 'vote-message',
    arbitrary: fc.oneof(fc.uint8Array({ maxLength: 300 }), mutationsOfAny(voteSamples).map((m) => ({ m })), fc.constantFrom(...voteSamples).chain((m) => byteMutationsOf(encodeVoteMessage(m as never)))),
    run(input) {
      if (input instanceof Uint8Array) return void decodeVoteMessage(input)
      let bytes: Uint8Array
      try {
        bytes = pack({ v: 1, ...((input as { m: object }).m ?? {}) })
      } catch {
        return
      }
      decodeVoteMessage(bytes)
    },
  },
  {
    name: 'wave-control',
    arbitrary: fc.oneof(mutationsOf(signControl(control, keyring)), fc.anything({ maxDepth: 3 })),
    run(input) {
      new WaveGate(keyring.publicKey, keyring).onControl(input)
    },
  },
  {
    name: 'http-enroll-body',
    arbitrary: jsonText(enrollSample),
    run(input) {
      parseHttpBody(input as string, EnrollRequest, 'enrollment request')
    },
  },
  {
    name: 'http-admin-bodies',
    arbitrary: fc.oneof(
      jsonText({ requestId: '0123456789abcdef' }).map((t) => ['decide', t] as const),
      jsonText({ node: 'node-a', image: 'v2' }).map((t) => ['assign', t] as const),
      jsonText({ mac: '52:54:00:00:00:01', image: 'v2' }).map((t) => ['assign', t] as const),
      jsonText({ node: 'node-a' }).map((t) => ['remove', t] as const),
      jsonText({ target: 'v2', maxUnavailable: 1, failureDomain: 'domain', window: '01:00-05:00', alertSource: 'http://am:9093', drainPolicy: 'halt', nodeTimeoutMs: 60000, dryRun: true }).map((t) => ['wave', t] as const),
      jsonText({ node: 'node-a' }).map((t) => ['force-release', t] as const),
      jsonText({ node: 'node-a', wave: 'w1', slot: 0, term: 1, sig: 'ab'.repeat(64) }).map((t) => ['assign-lease', t] as const),
    ),
    run(input) {
      const [kind, text] = input as [string, string]
      const schema = { decide: DecideRequest, assign: AssignRequest, remove: RemoveRequest, wave: WaveCreate, 'force-release': ForceReleaseRequest, 'assign-lease': AssignLeaseRequest }[kind]!
      parseHttpBody(text, schema as never, kind)
    },
  },
  {
    name: 'http-queries',
    arbitrary: fc.oneof(
      fc.dictionary(fc.constantFrom('limit', 'since', 'kind', 'x', ''), fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('1', '-1', '1e9', 'NaN', '0x10', '10000', '10001', ' 5', 'Infinity'))),
      fc.string({ maxLength: 100 }).map((q) => Object.fromEntries(new URLSearchParams(q))),
    ),
    run(input) {
      try {
        validate(AuditQuery, input, 'audit query')
      } catch (err) {
        if (!(err instanceof HttpError) || err.status !== 400) throw err
      }
    },
  },
  {
    name: 'ceph-output',
    arbitrary: fc.oneof(
      ...(
        [
          ['status_ok', 'status'],
          ['status_down', 'status'],
          ['health_down', 'health'],
          ['osd_tree', 'tree'],
          ['osd_dump_down', 'dump'],
          ['oktostop_2_while_1_down', 'oktostop'],
        ] as const
      ).map(([file, kind]) => jsonText(cephText(file)).map((text) => [kind, text] as const)),
    ),
    run(input) {
      const [kind, text] = input as [string, string]
      const schema = { status: CephStatus, health: CephHealth, tree: CephOsdTree, dump: CephOsdDump, oktostop: CephOkToStop }[kind]!
      let parsed: unknown
      try {
        parsed = parseJsonWith(schema as never, text, `ceph ${kind}`)
      } catch (err) {
        if (isAnswer(err)) return
        throw err
      }
      // What parses is what the gates compute with: facts from it must not throw either.
      const snap = { ...cephBase, [kind]: parsed }
      const { known, osds } = osdsUnder(snap.tree, 'node-a')
      cephFacts({ ...snap, hostOsds: osds, hostKnown: known } as never)
    },
  },
  {
    name: 'kube-output',
    arbitrary: fc.oneof(
      jsonText({ kind: 'NodeList', items: [kubeNodeSample], metadata: { continue: '' } }).map((t) => ['nodes', t] as const),
      jsonText({ kind: 'PodList', items: [kubePodSample] }).map((t) => ['pods', t] as const),
      jsonText({ items: [{ metadata: { name: 'pdb', namespace: 'default' }, spec: { selector: { matchLabels: { a: 'b' } } }, status: { disruptionsAllowed: 0 } }] }).map((t) => ['pdbs', t] as const),
      jsonText({ kind: 'Status', status: 'Failure', message: 'Cannot evict pod', reason: 'TooManyRequests', code: 429 }).map((t) => ['status', t] as const),
      jsonText(kubeNodeSample).map((t) => ['node', t] as const),
    ),
    run(input) {
      const [kind, text] = input as [string, string]
      const schema = { nodes: listOf(KubeNode), pods: listOf(KubePod), pdbs: listOf(KubePdb), status: KubeStatus, node: KubeNode }[kind]!
      try {
        parseJsonWith(schema as never, text, `kube ${kind}`)
      } catch (err) {
        if (!isAnswer(err)) throw err
      }
    },
  },
  {
    name: 'kubeconfig',
    arbitrary: fc.oneof(textMutationsOf(kubeconfigSample), fc.string({ maxLength: 200 })),
    run(input) {
      try {
        kubeconfigFromText(input as string, kubeDir)
      } catch (err) {
        if (!isAnswer(err)) throw err
      }
    },
  },
  {
    name: 'kernel-cmdline',
    arbitrary: cmdline,
    run(input) {
      const line = input as string
      parseBootParams(line)
      for (const parse of [parseMeshParam, parsePeersParam, parseUpgradeParam] as ((l: string) => unknown)[]) {
        try {
          parse(line)
        } catch (err) {
          if (!isAnswer(err)) throw err
        }
      }
    },
  },
  {
    name: 'coordinator-config',
    arbitrary: jsonText({ dataDir: '/var/lib/shoal', httpPort: 8080, approval: 'new-fingerprints', kernelArgs: 'console=ttyS0 shoal.mesh=probeTimeoutMs:1500', meshTiming: 'lan', bootstrapAdvertise: ['10.0.0.1:49737'], maxBodyBytes: 1024 }),
    run(input) {
      try {
        mergeConfig(parseConfigFile(input as string, 'coordinator.json'))
      } catch (err) {
        if (!isAnswer(err)) throw err
      }
    },
  },
  {
    name: 'agent-config',
    arbitrary: mutationsOf({ cluster: 'c', nodeId: 'node-a', seedHex: 'ab'.repeat(32), rosterFile: '/etc/shoal/roster.json', bootstrap: ['10.0.0.1:49737'], apiPort: 7400, image: 'v1', domain: 'rack-1', mesh: { probeIntervalMs: 500 }, inventory: { cpuCores: 2 } }),
    run(input) {
      try {
        resolveAgentConfig(input)
      } catch (err) {
        if (!isAnswer(err)) throw err
      }
    },
  },
  {
    name: 'mesh-fingerprints',
    arbitrary: mutationsOf([{ id: 'node-a', comps: ['uuid:abc', 'nic:def'], alive: true, inc: 3, ver: 12 }, { id: 'node-b', comps: ['disk:x'], alive: false, inc: 1, ver: 1 }]),
    run(input) {
      try {
        parseMeshFingerprints(input)
      } catch (err) {
        if (!isAnswer(err)) throw err
      }
    },
  },
]

/** The coordinator's body edge without the socket: JSON.parse as readJson does, then validate. */
function parseHttpBody(text: string, schema: Parameters<typeof validate>[0], what: string): void {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return // readJson answers 400 'not valid JSON'
  }
  try {
    validate(schema, json, what)
  } catch (err) {
    if (!(err instanceof HttpError) || err.status !== 400 || !err.message) throw err
  }
}

export { MAX_FRAME_BYTES }
