import { describe, expect, it } from 'vitest'
import { parseDomainParam } from './domain-param.js'

describe('shoal.domain=', () => {
  it('reads the domain; the last one wins (a coordinator label after the site-wide kernelArgs)', () => {
    expect(parseDomainParam('console=ttyS0 shoal.token=ab')).toBeUndefined()
    expect(parseDomainParam('console=ttyS0 shoal.domain=rack-1 quiet')).toEqual({ from: 'cmdline', domain: 'rack-1' })
    expect(parseDomainParam('shoal.domain=site-wide shoal.mac=x shoal.domain=rack-3')).toEqual({ from: 'cmdline', domain: 'rack-3' })
    expect(parseDomainParam('shoal.domain=lldp')).toEqual({ from: 'lldp' })
  })
  it('refuses a name that is not one, saying what is allowed', () => {
    expect(() => parseDomainParam('shoal.domain=')).toThrow(/not a domain name .* shoal.domain=lldp/)
    expect(() => parseDomainParam('shoal.domain=rack/3')).toThrow(/letters, digits/)
  })
})
