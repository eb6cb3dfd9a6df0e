/**
 * LLDP neighbours as Debian's lldpd reports them (`lldpcli -f json show neighbors`), and the
 * failure domain they give a worker: the switch it is cabled to. Workers on one switch share
 * a domain (a top-of-rack switch is a rack); a worker cabled to two switches (two NICs, MLAG)
 * takes the switch of its first interface by name, so every worker of a pair picks alike.
 *
 * lldpcli's JSON has two quirks handled here: `interface` is an object when there is one
 * neighbour and an array of one-key objects when there are several, and a chassis that
 * sends a system name is keyed by it (`chassis: { "tor-r3-a": { id, ... } }`) while one
 * without is not (`chassis: { id, ... }`). Anything else is refused with the field named.
 */
import { z } from 'zod'
import { DOMAIN_RE } from '../protocol/kernel-params/domain-param.js'
import { ShoalError } from '../protocol/errors.js'

export interface LldpNeighbor {
  /** Local interface the neighbour was heard on. */
  iface: string
  /** The switch's system name, when it sends one. */
  switchName: string | undefined
  /** The switch's chassis id (usually a MAC). */
  chassisId: string
  /** The switch port (its id value: ifname, or a local number). */
  port: string
}

const Id = z.object({ type: z.string(), value: z.string() })
const ChassisBody = z.object({ id: Id }).loose()
const Entry = z
  .object({
    chassis: z.record(z.string(), z.unknown()),
    port: z.object({ id: Id }).loose(),
  })
  .loose()
const Answer = z.object({
  lldp: z.object({ interface: z.union([z.record(z.string(), Entry), z.array(z.record(z.string(), Entry))]).optional() }).loose(),
})

/** Parses `lldpcli -f json show neighbors`. Throws ShoalError('bad-output') naming what was wrong. */
export function parseLldpNeighbors(text: string): LldpNeighbor[] {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new ShoalError('bad-output', `lldpcli -f json show neighbors: not JSON (${(err as Error).message})`)
  }
  const r = Answer.safeParse(raw)
  if (!r.success) {
    const i = r.error.issues[0]!
    throw new ShoalError('bad-output', `lldpcli -f json show neighbors: ${i.path.join('.') || '(top)'}: ${i.message}`)
  }
  const ifs = r.data.lldp.interface
  const entries: [string, z.infer<typeof Entry>][] = !ifs ? [] : Array.isArray(ifs) ? ifs.flatMap((o) => Object.entries(o)) : Object.entries(ifs)
  const out: LldpNeighbor[] = []
  for (const [iface, e] of entries) {
    const direct = ChassisBody.safeParse(e.chassis)
    let switchName: string | undefined
    let body: z.infer<typeof ChassisBody> | undefined
    if (direct.success) body = direct.data
    else {
      const named = Object.entries(e.chassis).map(([name, v]) => [name, ChassisBody.safeParse(v)] as const).find(([, p]) => p.success)
      if (named) {
        switchName = named[0]
        body = named[1].data
      }
    }
    if (!body) throw new ShoalError('bad-output', `lldpcli -f json show neighbors: interface ${iface}: chassis has no id`)
    out.push({ iface, switchName, chassisId: body.id.value, port: e.port.id.value })
  }
  return out.sort((a, b) => (a.iface < b.iface ? -1 : a.iface > b.iface ? 1 : 0))
}

/** A domain name from a switch: its system name, else `sw-` and its chassis id; cleaned to the domain alphabet. */
function switchDomain(n: LldpNeighbor): string {
  const raw = n.switchName ?? `sw-${n.chassisId}`
  const clean = raw.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64)
  return DOMAIN_RE.test(clean) ? clean : `sw-${n.chassisId.replace(/[^A-Za-z0-9]/g, '')}`.slice(0, 64)
}

/** The failure domain LLDP gives this worker (its first interface's switch), undefined when nothing was heard. */
export function lldpDomain(neighbors: readonly LldpNeighbor[]): { domain: string; via: LldpNeighbor } | undefined {
  const first = neighbors[0]
  return first ? { domain: switchDomain(first), via: first } : undefined
}

/** Groups workers by the domain their LLDP neighbours give (what `shoal nodes` shows per switch). */
export function groupBySwitch(workers: ReadonlyMap<string, readonly LldpNeighbor[]>): Map<string, string[]> {
  const groups = new Map<string, string[]>()
  for (const [id, ns] of workers) {
    const d = lldpDomain(ns)?.domain ?? 'default'
    groups.set(d, [...(groups.get(d) ?? []), id].sort())
  }
  return groups
}
