/**
 * Identity over a realistic fleet: 10,000 synthetic machines (sim/synthetic-machines.ts:
 * Dell, HPE, Supermicro batches with one board serial, OEM whiteboxes with placeholder
 * serials and AMI's default uuid, VMs without disk serials, OCP sleds without board
 * serials) boot one after another, each resolving against every fingerprint the mesh
 * already knows. Then every single-part swap is applied to a slice of the fleet.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { evidenceOf, FleetIndex, isValidNodeId, resolveIdentity } from '../agent/fingerprint/index.js'
import { mutateMachine, SINGLE_PART_MUTATIONS, syntheticMachine, type SyntheticMachine } from '../sim/synthetic-machines.js'

const SEED = Number(process.env.SHOAL_CORPUS_SEED ?? 20261123)
const N = 10_000
const MATRIX = 600

describe(`fingerprint corpus (seed ${SEED}: SHOAL_CORPUS_SEED=${SEED} reproduces it)`, () => {
  const fleet = new FleetIndex()
  const knownArray: { id: string; comps: string[] }[] = []
  const idOf: string[] = []
  const firstSeen = new Map<string, number>()
  const collisions: string[] = []
  const sample: SyntheticMachine[] = []
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
      if (i < MATRIX) sample.push(m)
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
    expect(sample.some((m) => m.profile !== 'vm' && !m.components.some((c) => c.kind === 'board'))).toBe(true) // boards without serials
  })

  it('gives 10,000 machines 10,000 distinct, valid ids', () => {
    expect(collisions).toEqual([])
    expect(new Set(idOf).size).toBe(N)
    expect(idOf.every(isValidNodeId)).toBe(true)
  })

  it('a reboot with no change keeps the id (with and without the fleet)', () => {
    for (let i = 0; i < MATRIX; i += 7) {
      expect(resolveIdentity(sample[i]!.components, fleet).id).toBe(idOf[i])
      // Cold start of the whole cluster: nothing known, the same hardware derives the same id.
      expect(resolveIdentity(sample[i]!.components, []).id).toBe(idOf[i])
    }
  }, 120_000)

  it('every single-part swap keeps the id when the fleet is known', () => {
    const lost: string[] = []
    const applied = new Map<string, number>()
    for (let i = 0; i < MATRIX; i++) {
      const m = sample[i]!
      for (const mutation of SINGLE_PART_MUTATIONS) {
        const after = mutateMachine(m, mutation, SEED)
        if (!after) continue
        const r = resolveIdentity(after.components, fleet)
        applied.set(mutation, (applied.get(mutation) ?? 0) + 1)
        if (r.id === idOf[i]) continue
        // Documented limit: with under 3 points of evidence (e.g. a VM with a uuid and one
        // NIC), the swapped machine is indistinguishable from a clone: a new id is the safe answer.
        const before = resolveIdentity(m.components, [])
        if (evidenceOf(before.comps) < 3) {
          expect(before.warnings.join(' ')).toMatch(/a part swap on this machine may give it a new id/)
          continue
        }
        lost.push(`machine ${i} (${m.profile}) ${mutation}: ${JSON.stringify(r.candidates)}`)
      }
    }
    expect(lost).toEqual([])
    for (const mutation of SINGLE_PART_MUTATIONS) expect(applied.get(mutation) ?? 0, mutation).toBeGreaterThan(MATRIX / 2)
  }, 240_000)

  it('machines with enough evidence are nearly all of the fleet', () => {
    const weak = sample.filter((m) => evidenceOf(resolveIdentity(m.components, []).comps) < 3).length
    expect(weak / sample.length).toBeLessThan(0.1)
  }, 120_000)

  it('replacing most parts makes a new id, and it is not anyone else\'s', () => {
    for (let i = 0; i < MATRIX; i += 3) {
      const after = mutateMachine(sample[i]!, 'most-parts-replaced', SEED)!
      const r = resolveIdentity(after.components, fleet)
      expect(r.decision).toBe('new')
      expect(fleet.has(r.id)).toBe(false)
    }
  }, 120_000)

  it('resolving against a plain array (one-shot boot) decides exactly as the FleetIndex does', () => {
    for (let i = 0; i < MATRIX; i += 40) {
      const m = mutateMachine(sample[i]!, SINGLE_PART_MUTATIONS[i % SINGLE_PART_MUTATIONS.length]!, SEED) ?? sample[i]!
      const a = resolveIdentity(m.components, fleet)
      const b = resolveIdentity(m.components, knownArray)
      expect({ id: b.id, decision: b.decision, candidates: b.candidates }).toEqual({ id: a.id, decision: a.decision, candidates: a.candidates })
    }
  }, 120_000)

  it('is deterministic: the same seed builds the same fleet and the same ids', () => {
    for (const i of [0, 1, 41, 999, 5000, 9999]) {
      const again = syntheticMachine(i, SEED)
      expect(again.components).toEqual(syntheticMachine(i, SEED).components)
      if (i < MATRIX) expect(again.components).toEqual(sample[i]!.components)
    }
    const a = mutateMachine(sample[3]!, 'board-replaced-disks-kept', SEED)
    expect(mutateMachine(sample[3]!, 'board-replaced-disks-kept', SEED)).toEqual(a)
  })
})
