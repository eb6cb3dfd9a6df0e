/**
 * Which firing alerts hold a wave: Alertmanager's matcher syntax
 * (`{alertname=~"Ceph.*",severity="critical"}`, braces optional). One selector is a
 * comma-separated list of matchers that must all match; an alert blocks when it matches any
 * selector (no selector: every alert). Alerts named in IGNORED_ALERTS never block: kube-
 * prometheus's Watchdog fires forever by design (a dead man's switch) and InfoInhibitor is
 * an inhibition helper, so either would hold a wave forever.
 * Regular expressions are anchored as Alertmanager anchors them (`^(?:re)$`); they run as
 * JavaScript regexes, which agree with Go's RE2 on the usual forms (`.*`, `a|b`, classes).
 * Pure: parsing and matching only.
 */
import { ShoalError } from './errors.js'

export const IGNORED_ALERTS: readonly string[] = ['Watchdog', 'InfoInhibitor']

export type MatchOp = '=' | '!=' | '=~' | '!~'
export interface AlertMatcher {
  readonly name: string
  readonly op: MatchOp
  readonly value: string
  /** The anchored regex of =~ and !~. */
  readonly re?: RegExp
}
export type AlertSelector = readonly AlertMatcher[]

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y
const OPS: readonly MatchOp[] = ['=~', '!~', '!=', '='] // longest first

function bad(text: string, at: number, what: string): ShoalError {
  return new ShoalError('usage', `alert matcher ${JSON.stringify(text)}: ${what} at character ${at + 1} (expected e.g. {alertname=~"Ceph.*",severity="critical"})`)
}

/** Parses one selector; throws ShoalError('usage') saying where and what is wrong. */
export function parseAlertSelector(text: string): AlertSelector {
  if (text.length > 1024) throw new ShoalError('usage', `alert matcher longer than 1024 characters`)
  let s = text.trim()
  let base = text.indexOf(s)
  if (s.startsWith('{')) {
    if (!s.endsWith('}')) throw bad(text, text.length, 'missing closing }')
    s = s.slice(1, -1)
    base += 1
  } else if (s.endsWith('}')) throw bad(text, text.length - 1, 'unexpected }')
  const out: AlertMatcher[] = []
  let i = 0
  const skip = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++
  }
  skip()
  if (i === s.length) throw bad(text, base + i, 'empty matcher')
  while (i < s.length) {
    skip()
    NAME.lastIndex = i
    const name = NAME.exec(s)?.[0]
    if (!name) throw bad(text, base + i, 'expected a label name')
    i += name.length
    skip()
    const op = OPS.find((o) => s.startsWith(o, i))
    if (!op) throw bad(text, base + i, `expected =, !=, =~ or !~ after "${name}"`)
    i += op.length
    skip()
    let value = ''
    if (s[i] === '"') {
      i++
      for (;;) {
        if (i >= s.length) throw bad(text, base + i, 'unterminated "')
        const c = s[i++]!
        if (c === '"') break
        if (c === '\\') {
          const e = s[i++]
          if (e === undefined) throw bad(text, base + i, 'unterminated "')
          value += e === 'n' ? '\n' : e === 't' ? '\t' : e
        } else value += c
      }
    } else {
      // Unquoted values, as Alertmanager's classic parser accepts: up to the next comma.
      const end = s.indexOf(',', i)
      value = s.slice(i, end < 0 ? s.length : end).trim()
      if (/["{}=!~]/.test(value)) throw bad(text, base + i, 'quote a value holding " { } = ! or ~')
      i = end < 0 ? s.length : end
    }
    let re: RegExp | undefined
    if (op === '=~' || op === '!~') {
      try {
        re = new RegExp(`^(?:${value})$`, 'u')
      } catch (err) {
        throw new ShoalError('usage', `alert matcher ${JSON.stringify(text)}: bad regular expression for ${name}: ${(err as Error).message}`)
      }
    }
    out.push(re ? { name, op, value, re } : { name, op, value })
    skip()
    if (i < s.length) {
      if (s[i] !== ',') throw bad(text, base + i, 'expected , between matchers')
      i++
      skip()
      if (i === s.length) break // a trailing comma, as Alertmanager allows
    }
  }
  return out
}

/** Whether labels satisfy one matcher (a missing label is the empty string, as in Alertmanager). */
export function matches(m: AlertMatcher, labels: Readonly<Record<string, string>>): boolean {
  const v = labels[m.name] ?? ''
  switch (m.op) {
    case '=':
      return v === m.value
    case '!=':
      return v !== m.value
    case '=~':
      return m.re!.test(v)
    case '!~':
      return !m.re!.test(v)
  }
}

/** Whether a firing alert with these labels holds the wave. */
export function alertBlocks(labels: Readonly<Record<string, string>>, selectors: readonly AlertSelector[]): boolean {
  if (IGNORED_ALERTS.includes(labels.alertname ?? '')) return false
  return selectors.length === 0 || selectors.some((sel) => sel.every((m) => matches(m, labels)))
}

/** An alert's labels as read from an untrusted body: string values only (anything else is dropped). */
export function alertLabels(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') out[k] = v
  return out
}
