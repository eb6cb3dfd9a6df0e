/**
 * Identity over a realistic fleet: 10,000 synthetic machines (sim/synthetic-machines.ts:
 * Dell, HPE, Supermicro batches with one board serial, OEM whiteboxes with placeholder
 * serials and AMI's default uuid, VMs without disk serials, OCP sleds without board
 * serials) boot one after another, each resolving against every fingerprint the mesh
 * already knows. Then every single-part swap is applied to every 16th machine (a sample
 * that spans every batch: batches are contiguous, so the first few hundred miss some).
 *
 * Exactly two kinds of machine may lose their id on a single-part swap, by design
 * (docs/identity.md): one with under 3 points of evidence (a VM with a uuid and one NIC
 * and disks without serials: after the swap it is indistinguishable from a clone), and
 * one left with no disk at all whose board ids are vendor junk (a whitebox whose only
 * disk was pulled: where the disks go, the node goes).
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { digestKind, evidenceOf, FleetIndex, isValidNodeId, resolveIdentity } from '../agent/fingerprint/index.js'
import { mutateMachine, SINGLE_PART_MUTATIONS, syntheticMachine, type SyntheticMachine } from '../sim/synthetic-machines.js'

const SEED = Number(process.env.SHOAL_CORPUS_SEED ?? 20261123)
const N = 10_000
/** Every STRIDE-th machine goes through the mutation matrix (625 machines). */
const STRIDE = 16

const BOARD = new Set(['uuid', 'sys', 'board', 'chassis'])
const DISK = new Set(['wwn', 'disk'])
/** Why a swap may give this machine a new id (docs/identity.md), or undefined when it must keep it. */
function documentedLoss(beforeComps: readonly string[], afterComps: readonly string[]): string | undefined {
  if (evidenceOf(beforeComps) < 3) return 'under 3 points of evidence'
  const kinds = (cs: readonly string[]) => cs.map((c) => digestKind(c)!)
  if (!kinds(afterComps).some((k) => DISK.has(k)) && !kinds(beforeComps).some((k) => BOARD.has(k))) return 'left with no disk, no usable board ids'
  return undefined
}

describe(`fingerprint corpus (seed ${SEED}: SHOAL_CORPUS_SEED=${SEED} reproduces it)`, () => {
  const fleet = new FleetIndex()
  const knownArray: { id: string; comps: string[] }[] = []
  const idOf: string[] = []
  const firstSeen = new Map<string, number>()
  const collisions: string[] = []
  /** The machines of the mutation matrix, with their corpus index. */
  const sample: { i: number; m: SyntheticMachine }[] = []
  const profiles = new Map<string, number>()
  const values = new Map<string, number>()

  beforeAll(() => {
    console.log(`fingerprint corpus: seed ${SEED}, ${N} machines`)
    for (let i = 0; i < N; i++) {
      const m = syntheticMachine(i, SEED)
      profiles.set(m.profile, (profiles.get(m.profile) ?? 0) + 1)
      for (const c of m.components) if (c.kind !== 'cpu') values.set(`${c.kind}=${c.value}`, (values.get(`${c.kind}=${c.value}`) ?? 0) + 1)
      const r = resolveIdentity(m.components, fleet)
      const other = firstSeen.get(r.id)
      if (other !== undefined) collisions.push(`machine ${i} (${m.profile}) got ${r.id}, already machine ${other}'s (${r.decision}, score ${r.score})`)
      else firstSeen.set(r.id, i)
      idOf.push(r.id)
      fleet.add({ id: r.id, comps: r.comps })
      knownArray.push({ id: r.id, comps: r.comps })
      if (i % STRIDE === 0) sample.push({ i, m })
    }
  }, 240_000)

  it('has every vendor pattern in it', () => {
    expect([...profiles.keys()].sort()).toEqual(['dell', 'hpe', 'ocp', 'supermicro', 'vm', 'whitebox'])
    for (const n of profiles.values()) expect(n).toBeGreaterThan(N / 50)
    // The junk the corpus must contain to mean anything: shared and placeholder values.
    const shared = [...values].filter(([, n]) => n > 1).map(([v]) => v)
    expect(shared.some((v) => v.startsWith('board='))).toBe(true) // a batch with one board serial
    expect(shared.some((v) => v.startsWith('uuid=03000200'))).toBe(true) // AMI's default uuid
    expect(shared.some((v) => /^sys=(To Be Filled|Default string|0123456789)/i.test(v))).toBe(true)
    expect(shared.some((v) => v.startsWith('disk=AA0000'))).toBe(true) // cheap SSDs with one serial
    expect(sample.some(({ m }) => m.profile !== 'vm' && !m.components.some((c) => c.kind === 'board'))).toBe(true) // boards without serials
  })

  it('gives 10,000 machines 10,000 distinct, valid ids', () => {
    expect(collisions).toEqual([])
    expect(new Set(idOf).size).toBe(N)
    expect(idOf.every(isValidNodeId)).toBe(true)
  })

  it('a reboot with no change keeps the id (with and without the fleet)', () => {
    for (let k = 0; k < sample.length; k += 7) {
      const { i, m } = sample[k]!
      expect(resolveIdentity(m.components, fleet).id).toBe(idOf[i])
      // Cold start of the whole cluster: nothing known, the same hardware derives the same id.
      expect(resolveIdentity(m.components, []).id).toBe(idOf[i])
    }
  }, 120_000)

  it('every single-part swap keeps the id when the fleet is known, except on the two documented kinds of machine', () => {
    const lost: string[] = []
    const applied = new Map<string, number>()
    const documented = new Map<string, number>()
    for (const { i, m } of sample) {
      const before = resolveIdentity(m.components, [])
      for (const mutation of SINGLE_PART_MUTATIONS) {
        const after = mutateMachine(m, mutation, SEED)
        if (!after) continue
        const r = resolveIdentity(after.components, fleet)
        applied.set(mutation, (applied.get(mutation) ?? 0) + 1)
        if (r.id === idOf[i]) continue
        expect(r.decision).toBe('new') // never someone else's id
        const why = documentedLoss(before.comps, r.comps)
        if (why) {
          // The machine warned about it before the swap, or has nothing left to keep its id by.
          if (why.startsWith('under 3')) expect(before.warnings.join(' ')).toMatch(/a part swap on this machine may give it a new id/)
          else expect(before.warnings.join(' ')).toMatch(/no usable board ids .* gives it a new id/)
          const key = `${m.profile} ${mutation}: ${why}`
          documented.set(key, (documented.get(key) ?? 0) + 1)
          continue
        }
        lost.push(`machine ${i} (${m.profile}) ${mutation}: ${JSON.stringify(r.candidates)}`)
      }
    }
    console.log(`mutation matrix: ${sample.length} machines; applied ${JSON.stringify(Object.fromEntries(applied))}; new id by design ${JSON.stringify(Object.fromEntries(documented))}`)
    expect(lost).toEqual([])
    for (const mutation of SINGLE_PART_MUTATIONS) expect(applied.get(mutation) ?? 0, mutation).toBeGreaterThan(sample.length / 2)
  }, 240_000)

  it('machines with enough evidence are nearly all of the fleet', () => {
    const weak = sample.filter(({ m }) => evidenceOf(resolveIdentity(m.components, []).comps) < 3).length
    console.log(`under 3 points of evidence: ${weak} of ${sample.length} sampled machines (${((100 * weak) / sample.length).toFixed(1)}%)`)
    expect(weak / sample.length).toBeLessThan(0.1)
  }, 120_000)

  it('replacing most parts makes a new id, and it is not anyone else\'s', () => {
    for (let k = 0; k < sample.length; k += 3) {
      const after = mutateMachine(sample[k]!.m, 'most-parts-replaced', SEED)!
      const r = resolveIdentity(after.components, fleet)
      expect(r.decision).toBe('new')
      expect(fleet.has(r.id)).toBe(false)
    }
  }, 120_000)

  it('resolving against a plain array (one-shot boot) decides exactly as the FleetIndex does', () => {
    for (let k = 0; k < sample.length; k += 40) {
      const i = k
      const m = mutateMachine(sample[k]!.m, SINGLE_PART_MUTATIONS[i % SINGLE_PART_MUTATIONS.length]!, SEED) ?? sample[k]!.m
      const a = resolveIdentity(m.components, fleet)
      const b = resolveIdentity(m.components, knownArray)
      expect({ id: b.id, decision: b.decision, candidates: b.candidates }).toEqual({ id: a.id, decision: a.decision, candidates: a.candidates })
    }
  }, 120_000)

  it('is deterministic: the same seed builds the same fleet and the same ids', () => {
    for (const i of [0, 1, 41, 999, 5000, 9999]) {
      const again = syntheticMachine(i, SEED)
      expect(again.components).toEqual(syntheticMachine(i, SEED).components)
      if (i % STRIDE === 0) expect(again.components).toEqual(sample[i / STRIDE]!.m.components)
    }
    const a = mutateMachine(sample[3]!.m, 'board-replaced-disks-kept', SEED)
    expect(mutateMachine(sample[3]!.m, 'board-replaced-disks-kept', SEED)).toEqual(a)
  })
})
