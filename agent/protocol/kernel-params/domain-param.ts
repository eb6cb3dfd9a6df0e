/**
 * Where a worker's failure domain comes from (docs/identity.md "Failure domains"), in this
 * order of precedence:
 *
 *   1. `shoal.domain=NAME` on the kernel command line. The coordinator writes it from
 *      `shoal coordinator label NODE domain=NAME`, after the operator's own kernelArgs; an
 *      operator may also put it in kernelArgs (for every node) or in his own PXE config.
 *      Several on one line: the last wins (the kernel's rule), so a coordinator label beats
 *      a site-wide kernelArgs value.
 *   2. LLDP: without `shoal.domain=` (or with `shoal.domain=lldp`), the switch the worker is
 *      cabled to, as Debian's lldpd reports it (agent/health/lldp.ts): workers on one switch
 *      share a domain.
 *   3. `default`.
 */
export type DomainParam = { from: 'cmdline'; domain: string } | { from: 'lldp' }

export const DOMAIN_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export class DomainParamError extends Error {
  readonly code = 'bad-cmdline'
}

/** The word for `domain` (a coordinator label). Throws DomainParamError on a bad name. */
export function formatDomainParam(domain: string): string {
  if (!DOMAIN_RE.test(domain) || domain === 'lldp') throw new DomainParamError(`shoal.domain: "${domain}" is not a domain name (letters, digits, . _ -, at most 64)`)
  return `shoal.domain=${domain}`
}

/** Reads `shoal.domain=` (the last one); undefined when absent. Throws DomainParamError on a bad name. */
export function parseDomainParam(cmdline: string): DomainParam | undefined {
  const words = cmdline.trim().split(/\s+/).filter((w) => w.startsWith('shoal.domain='))
  const last = words.at(-1)
  if (last === undefined) return undefined
  const value = last.slice('shoal.domain='.length)
  if (value === 'lldp') return { from: 'lldp' }
  if (!DOMAIN_RE.test(value)) throw new DomainParamError(`shoal.domain: "${value}" is not a domain name (letters, digits, . _ -, at most 64, e.g. shoal.domain=rack-3; or shoal.domain=lldp)`)
  return { from: 'cmdline', domain: value }
}
