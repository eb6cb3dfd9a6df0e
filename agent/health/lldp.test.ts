import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { groupBySwitch, lldpDomain, parseLldpNeighbors } from './lldp.js'
import { LldpDomain } from './lldp-domain.js'

const fixture = (name: string) => readFileSync(new URL(`./testdata/lldp/${name}.json`, import.meta.url), 'utf8')

describe('LLDP neighbours -> failure domain (lldpcli -f json show neighbors)', () => {
  it('two NICs on one top-of-rack switch: the switch names the domain', () => {
    const ns = parseLldpNeighbors(fixture('two-nics-one-switch'))
    expect(ns.map((n) => [n.iface, n.switchName, n.port])).toEqual([
      ['eno1', 'tor-r3-a', 'Ethernet12'],
      ['eno2', 'tor-r3-a', 'Ethernet13'],
    ])
    expect(lldpDomain(ns)?.domain).toBe('tor-r3-a')
  })

  it('one neighbour (lldpcli then writes an object, not an array)', () => {
    const ns = parseLldpNeighbors(fixture('one-nic'))
    expect(ns).toEqual([{ iface: 'enp1s0', switchName: 'tor-r3-a', chassisId: 'ea:de:44:ae:9c:45', port: 'Ethernet17' }])
    expect(lldpDomain(ns)?.domain).toBe('tor-r3-a')
  })

  it('a switch that sends no name (its chassis unkeyed; testdata/lldp/README.md): the chassis id names the domain', () => {
    const ns = parseLldpNeighbors(fixture('one-nic-unnamed-switch'))
    expect(ns).toEqual([{ iface: 'enp1s0', switchName: undefined, chassisId: 'ea:de:44:ae:9c:45', port: '17' }])
    expect(lldpDomain(ns)?.domain).toBe('sw-ea-de-44-ae-9c-45')
  })

  it('nothing heard yet: no domain from LLDP (the agent keeps default and asks again)', () => {
    expect(parseLldpNeighbors(fixture('none'))).toEqual([])
    expect(lldpDomain([])).toBeUndefined()
  })

  it('groups workers by switch', () => {
    const a = parseLldpNeighbors(fixture('two-nics-one-switch'))
    const b = parseLldpNeighbors(fixture('one-nic-unnamed-switch'))
    expect(groupBySwitch(new Map([['w2', a], ['w1', a], ['w3', b], ['w4', []]]))).toEqual(
      new Map([
        ['tor-r3-a', ['w1', 'w2']],
        ['sw-ea-de-44-ae-9c-45', ['w3']],
        ['default', ['w4']],
      ]),
    )
  })

  it('bad output is a clear error, never a crash', () => {
    expect(() => parseLldpNeighbors('lldpd not running')).toThrow(/not JSON/)
    // lldpcli does not escape quotes in names (seen with a switch named ""): not JSON, refused.
    expect(() => parseLldpNeighbors(fixture('one-nic').replace('"tor-r3-a": {', ': {'))).toThrow(/not JSON/)
    expect(() => parseLldpNeighbors('{"lldp":{"interface":{"eth0":{"chassis":{"x":{}},"port":{"id":{"type":"ifname","value":"p1"}}}}}}')).toThrow(/interface eth0: chassis has no id/)
    expect(() => parseLldpNeighbors('{"nope":1}')).toThrow(/lldp/)
  })
})

describe('LldpDomain (the agent asks lldpcli until a switch answers)', () => {
  it('keeps asking through errors and silence, then reports the switch once and stops', async () => {
    const answers = [() => Promise.reject(new Error('lldpcli: command not found')), () => Promise.resolve(fixture('none')), () => Promise.resolve(fixture('two-nics-one-switch'))]
    const got: string[] = []
    const w = new LldpDomain({ run: () => answers.shift()!(), onDomain: (d) => got.push(d) })
    expect(await w.ask()).toBeUndefined()
    expect(await w.ask()).toBeUndefined()
    expect(await w.ask()).toBe('tor-r3-a')
    expect(got).toEqual(['tor-r3-a'])
    expect(w.errors).toBe(1)
    w.start() // found already: no more asks
    expect(answers).toHaveLength(0)
  })
})
