import { describe, expect, it } from 'vitest'
import type { CephProbe } from '../health/ceph-probe.js'
import type { Logger } from '../protocol/ports.js'
import { RackPlacement } from './rack-placement.js'

/** A CRUSH map with host node-a under root default, and a probe whose `tree` may fail once. */
function fakeCeph() {
  const execs: string[][] = []
  let parent = 'default'
  let failNext = false
  const probe = {
    tree: async () => {
      if (failNext) {
        failNext = false
        throw new Error('mon unreachable')
      }
      return { nodes: [{ id: -1, name: 'default', type: 'root', children: parent === 'default' ? [-2] : [] }, { id: -2, name: 'node-a', type: 'host' }, ...(parent !== 'default' ? [{ id: -3, name: parent, type: 'rack', children: [-2] }] : [])] }
    },
    cli: {
      exec: async (args: string[]) => {
        execs.push(args)
        const m = /^rack=(.+)$/.exec(args[4] ?? '')
        if (args[2] === 'move' && args[3] === 'node-a' && m) parent = m[1]!
        return ''
      },
    },
  } as unknown as CephProbe
  return { probe, execs, failOnce: () => (failNext = true) }
}

/** A logger that records lines and lets a test wait for the next one (no sleeping). */
function recordingLogger() {
  const lines: string[] = []
  let waiter: ((msg: string) => void) | undefined
  const at = (msg?: string) => {
    lines.push(msg ?? '')
    waiter?.(msg ?? '')
    waiter = undefined
  }
  const logger: Logger = { debug: (_o, m) => at(m), info: (_o, m) => at(m), warn: (_o, m) => at(m), error: (_o, m) => at(m) }
  return { logger, lines, next: () => new Promise<string>((resolve) => (waiter = resolve)) }
}

describe('RackPlacement', () => {
  it('waits while told why (logging each new reason once), then moves the host under its rack once', async () => {
    const ceph = fakeCeph()
    const log = recordingLogger()
    const counted: string[] = []
    const r = new RackPlacement({ nodeId: 'node-a', host: 'node-a', logger: log.logger, count: (n) => counted.push(n) }, 'r1')
    r.probe = ceph.probe
    r.maybePlace(() => 'wave w1 is running')
    r.maybePlace(() => 'wave w1 is running')
    r.maybePlace(() => 'this node is draining')
    expect(log.lines).toEqual(['CRUSH location change waits', 'CRUSH location change waits'])
    expect(ceph.execs).toEqual([])
    const done = log.next()
    r.maybePlace(() => undefined)
    expect(await done).toBe('CRUSH host moved under its rack')
    expect(ceph.execs).toContainEqual(['osd', 'crush', 'move', 'node-a', 'rack=r1'])
    const before = ceph.execs.length
    r.maybePlace(() => undefined)
    expect(ceph.execs.length).toBe(before) // once
    expect(counted).toEqual([])
  })

  it('an error is counted and the next round tries again; a new domain is placed again, the same one is not', async () => {
    const ceph = fakeCeph()
    const log = recordingLogger()
    const counted: string[] = []
    const r = new RackPlacement({ nodeId: 'node-a', host: 'node-a', logger: log.logger, count: (n) => counted.push(n) }, 'r1')
    r.probe = ceph.probe
    ceph.failOnce()
    let next = log.next()
    r.maybePlace(() => undefined)
    expect(await next).toBe('could not set the CRUSH location; trying again next round')
    expect(counted).toEqual(['crush-location-errors'])
    next = log.next()
    r.maybePlace(() => undefined)
    expect(await next).toBe('CRUSH host moved under its rack')
    r.setDomain('r1')
    const before = ceph.execs.length
    r.maybePlace(() => undefined)
    expect(ceph.execs.length).toBe(before)
    r.setDomain('r2')
    next = log.next()
    r.maybePlace(() => undefined)
    expect(await next).toBe('CRUSH host moved under its rack')
    expect(ceph.execs.at(-1)).toEqual(['osd', 'crush', 'move', 'node-a', 'rack=r2'])
  })

  it('never asks Ceph without a probe, without a domain, or for the domain `default`', () => {
    const log = recordingLogger()
    let asked = 0
    const why = () => {
      asked++
      return undefined
    }
    const ceph = fakeCeph()
    const none = new RackPlacement({ nodeId: 'n', host: 'n', logger: log.logger, count: () => {} }, 'r1')
    none.maybePlace(why)
    const noDomain = new RackPlacement({ nodeId: 'n', host: 'n', logger: log.logger, count: () => {} }, undefined)
    noDomain.probe = ceph.probe
    noDomain.maybePlace(why)
    const dflt = new RackPlacement({ nodeId: 'n', host: 'n', logger: log.logger, count: () => {} }, 'default')
    dflt.probe = ceph.probe
    dflt.maybePlace(why)
    expect(asked).toBe(0)
    expect(ceph.execs).toEqual([])
    expect(log.lines).toEqual([])
  })
})
