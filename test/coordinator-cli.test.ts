/**
 * `shoal coordinator …` admin commands against a running coordinator on loopback: what an
 * operator types to approve a machine, assign an image and read the audit log.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { run, loadConfig } from '../cli/commands/coordinator.js'
import { EnrollPending } from '../agent/protocol/enroll/index.js'
import { parseDomainParam } from '../agent/protocol/kernel-params/domain-param.js'
import { postJson, startTestCoordinator, testMachine, tokenFromScript, type TestCoordinator } from '../coordinator/testing.js'

let h: TestCoordinator
afterEach(() => h?.close())

function io() {
  const out: string[] = []
  const err: string[] = []
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err }
}

describe('shoal coordinator (admin commands)', () => {
  it('pending -> approve -> nodes -> assign -> audit', async () => {
    h = await startTestCoordinator({ config: { approval: 'new-fingerprints' } })
    const common = ['--url', h.url, '--admin-token', h.adminToken]
    const m = testMachine(1)
    const token = tokenFromScript(await (await fetch(`${h.url}/boot/ipxe?mac=${m.mac}`)).text())
    const p = EnrollPending.parse((await postJson(`${h.url}/v1/enroll`, m.request(token))).json)

    const a = io()
    expect(await run(['pending', ...common], a.io)).toBe(0)
    expect(a.out.join('\n')).toContain(p.requestId)
    expect(a.out.join('\n')).toContain('waiting')

    const b = io()
    expect(await run(['approve', p.requestId, ...common], b.io)).toBe(0)
    expect(b.out.join('\n')).toContain('approved')
    expect((await postJson(`${h.url}/v1/enroll`, m.request(token))).status).toBe(200)

    const c = io()
    expect(await run(['nodes', ...common, '-o', 'json'], c.io)).toBe(0)
    const nodes = JSON.parse(c.out.join('\n'))
    expect(nodes).toMatchObject([{ id: 'node-0001', macs: [m.mac] }])

    expect(await run(['assign', 'node-0001', 'v1', ...common], io().io)).toBe(0)
    const d = io()
    expect(await run(['audit', ...common, '--kind', 'assign', '-o', 'json'], d.io)).toBe(0)
    expect(JSON.parse(d.out.join('\n'))).toMatchObject([{ kind: 'assign', node: 'node-0001', image: 'v1' }])
  })

  it('label NODE domain=NAME: written into its boot script after kernelArgs (it wins), kept across a restart, cleared with domain-', async () => {
    h = await startTestCoordinator({ config: { kernelArgs: 'console=ttyS0 shoal.domain=site-wide' } })
    let common = ['--url', h.url, '--admin-token', h.adminToken]
    const m = testMachine(1)
    const token = tokenFromScript(await (await fetch(`${h.url}/boot/ipxe?mac=${m.mac}`)).text())
    expect((await postJson(`${h.url}/v1/enroll`, m.request(token))).status).toBe(200)
    const bootLine = async () => (await (await fetch(`${h.url}/boot/ipxe?mac=${m.mac}`)).text()).split('\n').find((l) => l.startsWith('kernel '))!
    expect(parseDomainParam(await bootLine())).toEqual({ from: 'cmdline', domain: 'site-wide' })

    const a = io()
    expect(await run(['label', 'node-0001', 'domain=rack-3', ...common], a.io)).toBe(0)
    expect(a.out.join('\n')).toContain('node-0001: failure domain rack-3 from its next boot')
    expect(parseDomainParam(await bootLine())).toEqual({ from: 'cmdline', domain: 'rack-3' })
    await h.restart()
    common = ['--url', h.url, '--admin-token', h.adminToken]
    expect(parseDomainParam(await bootLine())).toEqual({ from: 'cmdline', domain: 'rack-3' })
    const d = io()
    expect(await run(['audit', ...common, '--kind', 'label', '-o', 'json'], d.io)).toBe(0)
    expect(JSON.parse(d.out.join('\n'))).toMatchObject([{ kind: 'label', node: 'node-0001', detail: { domain: 'rack-3' } }])

    await expect(run(['label', 'node-0001', 'rack=3', ...common], io().io)).rejects.toMatchObject({ code: 'usage' })
    await expect(run(['label', 'node-0001', 'domain=rack/3', ...common], io().io)).rejects.toThrow(/letters, digits/)
    expect(await run(['label', 'node-0001', 'domain-', ...common], io().io)).toBe(0)
    expect(parseDomainParam(await bootLine())).toEqual({ from: 'cmdline', domain: 'site-wide' })
  })

  it('a wrong admin token fails (1), a missing argument is usage (2), no coordinator is unreachable (3)', async () => {
    h = await startTestCoordinator()
    await expect(run(['nodes', '--url', h.url, '--admin-token', 'wrong-wrong-wrong-1'], io().io)).rejects.toMatchObject({ code: 'unauthorized' })
    await expect(run(['approve', '--url', h.url, '--admin-token', h.adminToken], io().io)).rejects.toMatchObject({ code: 'usage' })
    await expect(run(['nodes', '--url', 'http://127.0.0.1:1', '--admin-token', 'x'], io().io)).rejects.toMatchObject({ code: 'unreachable' })
    await expect(run(['frobnicate'], io().io)).rejects.toMatchObject({ code: 'usage' })
  })

  it('serve flags: every config field has a kebab-case flag; bad values are usage errors', async () => {
    const c = await loadConfig(['--http-port', '9999', '--unknown-mac', 'refuse', '--dht-port=-1', '--bootstrap-advertise', '10.0.2.2:49737,10.0.2.2:49738'], {})
    expect(c).toMatchObject({ httpPort: 9999, unknownMac: 'refuse', dhtPort: -1, bootstrapAdvertise: ['10.0.2.2:49737', '10.0.2.2:49738'] })
    await expect(loadConfig(['--http-port', 'x'], {})).rejects.toMatchObject({ code: 'usage' })
    await expect(loadConfig(['--no-such-flag'], {})).rejects.toMatchObject({ code: 'usage' })
    await expect(loadConfig(['--approval', 'sometimes'], {})).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(/approval/) })
  })
})
