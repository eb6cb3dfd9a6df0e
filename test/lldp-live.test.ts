/**
 * LLDP on real parts: Debian's lldpd in network namespaces joined by veth pairs (a switch
 * and two workers, test/support/lldp-netns.ts), read with `lldpcli -f json show neighbors`
 * as the agent reads it. The parser and the domain rule (agent/health/lldp.ts) run on what
 * lldpd really prints; the committed fixtures (agent/health/testdata/lldp/) are these
 * captures: LLDP_FIXTURES_OUT=DIR writes them again.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lldpDomain, parseLldpNeighbors } from '../agent/health/lldp.js'
import { LldpDomain } from '../agent/health/lldp-domain.js'
import { has, netnsLanMissing } from './e2e/harness/requirements.js'
import { LldpLan } from './support/lldp-netns.js'

const why = !has('lldpd', ['-v']) ? 'lldpd not installed (npm run setup installs it)' : netnsLanMissing('to create network namespaces')
if (why) console.log(`skipping test/lldp-live.test.ts: ${why}`)

/** Writes a capture as a fixture when asked to (LLDP_FIXTURES_OUT). */
async function keep(name: string, json: string): Promise<void> {
  const dir = process.env.LLDP_FIXTURES_OUT
  if (dir) await writeFile(join(dir, `${name}.json`), json.trim() + '\n')
}

describe.skipIf(!!why)('LLDP: lldpd in network namespaces, read as the agent reads it', () => {
  let lan: LldpLan
  beforeAll(async () => {
    lan = await LldpLan.start({
      switchName: 'tor-r3-a',
      cables: [
        { worker: 'w1', workerIf: 'eno1', switchIf: 'Ethernet12' },
        { worker: 'w1', workerIf: 'eno2', switchIf: 'Ethernet13' },
        { worker: 'w2', workerIf: 'enp1s0', switchIf: 'Ethernet17' },
      ],
      silent: { w3: ['enp1s0'] },
    })
  }, 60_000)
  afterAll(() => lan?.close(), 30_000)

  it('a worker with two NICs on one switch: both ports heard, the switch names the domain', async () => {
    const json = await lan.neighborsWhen('w1', (j) => j.includes('Ethernet12') && j.includes('Ethernet13'), 30_000)
    await keep('two-nics-one-switch', json)
    const ns = parseLldpNeighbors(json)
    expect(ns.map((n) => [n.iface, n.switchName, n.port])).toEqual([
      ['eno1', 'tor-r3-a', 'Ethernet12'],
      ['eno2', 'tor-r3-a', 'Ethernet13'],
    ])
    expect(ns[0]!.chassisId).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/)
    expect(lldpDomain(ns)?.domain).toBe('tor-r3-a')
  })

  it('a worker with one neighbour (lldpcli writes an object, not an array): same switch, same domain', async () => {
    const json = await lan.neighborsWhen('w2', (j) => j.includes('Ethernet17'), 30_000)
    await keep('one-nic', json)
    expect(JSON.parse(json).lldp.interface).not.toBeInstanceOf(Array)
    const ns = parseLldpNeighbors(json)
    expect(ns.map((n) => [n.iface, n.switchName, n.port])).toEqual([['enp1s0', 'tor-r3-a', 'Ethernet17']])
    expect(lldpDomain(ns)?.domain).toBe('tor-r3-a')
  })

  it('a worker whose cable leads to no LLDP speaker: nothing heard, no domain (the agent asks again)', async () => {
    // w1 heard its switch already, so the frames flow: w3 hearing nothing is not a slow start.
    await lan.neighborsWhen('w1', (j) => j.includes('Ethernet12'), 30_000)
    const json = await lan.neighbors('w3')
    await keep('none', json)
    expect(parseLldpNeighbors(json)).toEqual([])
    const found: string[] = []
    const d = new LldpDomain({ run: () => lan.neighbors('w3'), onDomain: (x) => found.push(x) })
    expect(await d.ask()).toBeUndefined()
    // The agent's own loop on w2's lldpd reports the switch once.
    const d2 = new LldpDomain({ run: () => lan.neighbors('w2'), onDomain: (x) => found.push(x) })
    expect(await d2.ask()).toBe('tor-r3-a')
    expect(found).toEqual(['tor-r3-a'])
  })
})
