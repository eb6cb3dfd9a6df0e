/**
 * The lease proof of a boot assignment (POST /v1/assign): a lease holder asks the
 * coordinator to boot it on the wave's target, signing `shoal-assign1|wave|slot|term|node`
 * with its node key. The coordinator checks the signature against the wave roster's key
 * and the (slot, term) against its own view of the grants. Defined once here; the agent's
 * RealSteps signs it, coordinator/waves verifies it. Pure: no IO, no clock.
 */
import type { Keyring } from './ports.js'
import { signAs, verifyAs } from './signing.js'

export interface AssignClaim {
  node: string
  wave: string
  slot: number
  term: number
}

export interface SignedAssignClaim extends AssignClaim {
  /** ed25519 by the node's key over assignSigningText(claim), hex. */
  sig: string
}

/** The exact text a node signs (domain-separated from every vote and record signature). */
export function assignSigningText(r: AssignClaim): string {
  return `shoal-assign1|${r.wave}|${r.slot}|${r.term}|${r.node}`
}

export function signAssign(r: AssignClaim, keyring: Pick<Keyring, 'sign'>): SignedAssignClaim {
  const claim = { node: r.node, wave: r.wave, slot: r.slot, term: r.term }
  return { ...claim, sig: toHex(signAs('assign', new TextEncoder().encode(assignSigningText(claim)), keyring)) }
}

/** True when `sig` is `key`'s signature over the claim; a malformed hex signature is simply false. */
export function verifyAssign(r: SignedAssignClaim, key: string, keyring: Pick<Keyring, 'verify'>): boolean {
  const sig = fromHex(r.sig)
  return sig !== undefined && verifyAs('assign', key, new TextEncoder().encode(assignSigningText(r)), sig, keyring)
}

function toHex(b: Uint8Array): string {
  let s = ''
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}

function fromHex(h: string): Uint8Array | undefined {
  if (h.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(h)) return undefined
  const out = new Uint8Array(h.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16)
  return out
}
