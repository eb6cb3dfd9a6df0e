/**
 * Which enrolled nodes a wave takes (`shoal upgrade start --selector …`): comma-separated
 * `key=GLOB` terms over what the coordinator knows of each node — `id` (the node id) and
 * `domain` (its gossiped failure domain) — all of which must match; `*` and `?` are globs.
 * Pure; resolved once at start into the stored list of ids.
 */
export interface SelectorFacts {
  id: string
  domain: string | undefined
}

const KEYS = ['id', 'domain'] as const
type Key = (typeof KEYS)[number]

export class SelectorError extends Error {}

function globRe(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`)
}

/** Parses `id=node-00*,domain=rack-a`; throws SelectorError saying what is accepted. */
export function parseSelector(text: string): { key: Key; re: RegExp }[] {
  return text.split(',').map((term) => {
    const m = /^\s*([a-z]+)\s*=\s*(\S+)\s*$/.exec(term)
    if (!m) throw new SelectorError(`selector term "${term}": expected KEY=GLOB (keys: ${KEYS.join(', ')}), e.g. domain=rack-a or id=node-00*`)
    if (!(KEYS as readonly string[]).includes(m[1]!)) throw new SelectorError(`selector key "${m[1]}" is unknown; keys: ${KEYS.join(', ')}`)
    return { key: m[1] as Key, re: globRe(m[2]!) }
  })
}

/** The ids `text` selects among `nodes`, in their order. */
export function selectNodes(text: string, nodes: readonly SelectorFacts[]): string[] {
  const terms = parseSelector(text)
  return nodes.filter((n) => terms.every((t) => t.re.test((t.key === 'id' ? n.id : n.domain) ?? ''))).map((n) => n.id)
}
