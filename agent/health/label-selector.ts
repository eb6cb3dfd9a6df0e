/**
 * Kubernetes label selectors (metav1.LabelSelector: matchLabels + matchExpressions), the
 * way the API server matches a PodDisruptionBudget to pods. Pure; shared by the drain plan
 * and the fake API server so both agree.
 */
export interface LabelSelector {
  matchLabels?: Record<string, string>
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[]
}

/** An empty selector selects everything (policy/v1 PDB semantics); a missing one nothing. */
export function selects(selector: LabelSelector | undefined | null, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false
  const l = labels ?? {}
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, e.key)
    const vals = e.values ?? []
    switch (e.operator) {
      case 'In':
        if (!has || !vals.includes(l[e.key]!)) return false
        break
      case 'NotIn':
        if (has && vals.includes(l[e.key]!)) return false
        break
      case 'Exists':
        if (!has) return false
        break
      case 'DoesNotExist':
        if (has) return false
        break
      default:
        return false
    }
  }
  return true
}

/** Parses the equality subset of a label/field selector string: "a=b,c==d,e!=f". */
export function parseSelectorString(s: string | null | undefined): { key: string; op: '=' | '!='; value: string }[] {
  if (!s) return []
  return s
    .split(',')
    .filter(Boolean)
    .map((term) => {
      const m = /^([^!=]+)(==|=|!=)(.*)$/.exec(term.trim())
      if (!m) throw new Error(`unsupported selector term "${term}" (only =, ==, != are supported)`)
      return { key: m[1]!.trim(), op: m[2] === '!=' ? '!=' : '=', value: m[3]!.trim() }
    })
}
