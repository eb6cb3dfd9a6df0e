/**
 * Known fingerprints from outside the process (a `--known` file, an HTTP body): parsed
 * with zod at the edge. Accepts what `shoal fingerprint -o json` prints — `{ id, comps }`,
 * or `{ id, components }` with raw values, which are screened and hashed here.
 */
import { z } from 'zod'
import { ShoalError } from '../protocol/errors.js'
import { COMPONENT_KINDS } from './component.js'
import type { KnownFingerprint } from './resolve-identity.js'
import { screenComponents } from './resolve-identity.js'

const Entry = z
  .object({
    id: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'node id: letters, digits, . _ - only'),
    comps: z.array(z.string().max(80)).max(256).optional(),
    components: z
      .array(z.object({ kind: z.enum(COMPONENT_KINDS), value: z.string().max(512) }).passthrough())
      .max(1024)
      .optional(),
    alive: z.boolean().optional(),
  })
  .passthrough()
  .refine((e) => e.comps !== undefined || e.components !== undefined, 'each entry needs "comps" or "components"')

export const KnownFingerprintFile = z.array(Entry).max(100_000)

/** Parses known fingerprints; throws ShoalError('usage') naming the first problem. */
export function parseKnownFingerprints(json: unknown, origin = 'known fingerprints'): KnownFingerprint[] {
  const parsed = KnownFingerprintFile.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new ShoalError('usage', `${origin}: ${issue.path.length ? `at ${issue.path.join('.')}: ` : ''}${issue.message} (expected an array of what \`shoal fingerprint -o json\` prints)`)
  }
  return parsed.data.map((e) => ({
    id: e.id,
    comps: e.comps ?? screenComponents(e.components!.map((c) => ({ kind: c.kind, value: c.value, source: 'known' }))).comps,
    ...(e.alive !== undefined ? { alive: e.alive } : {}),
  }))
}

/**
 * Known fingerprints from the mesh: every NodeRecord carries its id and component digest
 * (`comps`). `isAlive` (optional) marks nodes that answered a direct probe after this
 * machine started booting; their ids are not for taking (this machine would be a clone).
 * Never pass "not yet declared dead": that is this very machine's old record during a reboot.
 */
export function knownFromRecords(records: Iterable<{ id: string; comps: readonly string[] }>, isAlive?: (id: string) => boolean): KnownFingerprint[] {
  const out: KnownFingerprint[] = []
  for (const r of records) out.push(isAlive?.(r.id) ? { id: r.id, comps: r.comps, alive: true } : { id: r.id, comps: r.comps })
  return out
}
