import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ed25519Keyring } from '../protocol/ed25519.js'
import type { HealthObserver } from '../health/health-observer.js'
import { KubeClient } from '../health/kube-client.js'
import { kubeconfigFromText } from '../health/kube-config.js'
import { FakeKubeApiServer } from '../../sim/fakes/kube-api-server.js'
import { assignSigningText, CYCLE_ANNOTATION, ProcessExitRebooter, RealSteps, REBOOT_EXIT_CODE } from './real-steps.js'

const keyring = ed25519Keyring(new Uint8Array(32).fill(7))
const lease = { wave: 'w1', slot: 0, term: 3, holder: 'node-a' }

function server(answers: { status: number; body: unknown }[], seen: unknown[]): Promise<{ url: string; s: Server }> {
  const s = createServer((req, res) => {
    let b = ''
    req.on('data', (c: Buffer) => (b += c.toString()))
    req.on('end', () => {
      seen.push({ path: req.url, body: JSON.parse(b) })
      const a = answers.shift() ?? { status: 500, body: {} }
      res.writeHead(a.status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(a.body))
    })
  })
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, s })))
}

function steps(url: string, clock = { t: 0 }, deadlineMs = 5000): RealSteps {
  return new RealSteps({
    host: 'node-a',
    observer: { observe: async () => { throw new Error('probe exploded') } } as unknown as HealthObserver,
    ceph: undefined,
    kube: undefined,
    coordinatorUrl: url,
    keyring,
    clock: { now: () => clock.t },
    assignDeadlineMs: deadlineMs,
    wait: async (ms) => void (clock.t += ms),
  })
}

let open: Server | undefined
afterEach(() => open?.close())

describe('RealSteps', () => {
  it('assign: signs {node, wave, slot, term}, retries while the coordinator has not seen the grant, then succeeds', async () => {
    const seen: any[] = []
    const noLease = { status: 403, body: { error: { code: 'no-lease', message: 'not yet' } } }
    const { url, s } = await server([noLease, noLease, { status: 200, body: { node: 'node-a', image: 'v2' } }], seen)
    open = s
    await steps(url).assign(lease, 'v2')
    expect(seen).toHaveLength(3)
    const body = seen[2].body
    expect(seen[2].path).toBe('/v1/assign')
    expect({ node: body.node, wave: body.wave, slot: body.slot, term: body.term }).toEqual({ node: 'node-a', wave: 'w1', slot: 0, term: 3 })
    expect(keyring.verify(keyring.publicKey, new TextEncoder().encode(assignSigningText(body)), Buffer.from(body.sig, 'hex'))).toBe(true)
  })

  it('assign: a final refusal throws at once with the coordinator\'s reason', async () => {
    const seen: unknown[] = []
    const { url, s } = await server([{ status: 403, body: { error: { code: 'bad-signature', message: 'the signature is not node-a\'s' } } }], seen)
    open = s
    await expect(steps(url).assign(lease, 'v2')).rejects.toThrow(/refused to assign v2 to node-a: bad-signature/)
    expect(seen).toHaveLength(1)
  })

  it('assign: an unreachable coordinator fails at the deadline, saying where it looked', async () => {
    await expect(steps('http://127.0.0.1:1', { t: 0 }, 1000).assign(lease, 'v2')).rejects.toThrow(/not granted within 1 s: coordinator unreachable at http:\/\/127.0.0.1:1/)
  })

  it('gates fail closed when the probes throw; skipped steps are no-ops', async () => {
    const st = steps('http://127.0.0.1:1')
    const pre = await st.preGate()
    expect(pre.pass).toBe(false)
    expect(pre.reasons[0]).toMatch(/pre-reboot gate could not be evaluated, failing closed: probe exploded/)
    expect((await st.postGate()).pass).toBe(false)
    await st.setNoout()
    await st.cordon(lease)
    expect(await st.leftoverCycle()).toBeUndefined()
    expect(await st.drain(1000, false)).toEqual({ ok: true, blocking: [] })
  })

  it('ProcessExitRebooter exits with 75 after its flush delay', async () => {
    const codes: number[] = []
    await new ProcessExitRebooter(undefined, 1, (c) => codes.push(c)).reboot('test')
    expect(codes).toEqual([REBOOT_EXIT_CODE])
  })

  it('cordon marks the node with the cycle, uncordon removes the mark; an operator cordon carries none', async () => {
    const api = new FakeKubeApiServer()
    await api.start()
    try {
      api.addNode({ name: 'node-a', ready: true })
      const kube = new KubeClient(kubeconfigFromText(api.kubeconfig(), '/'))
      const st = new RealSteps({ host: 'node-a', observer: {} as HealthObserver, ceph: undefined, kube, coordinatorUrl: 'http://127.0.0.1:1', keyring, clock: { now: () => 0 }, assignDeadlineMs: 1000, wait: async () => {} })
      expect(await st.leftoverCycle()).toBeUndefined()
      await st.cordon(lease)
      expect(api.nodes.get('node-a')?.spec.unschedulable).toBe(true)
      expect(await st.leftoverCycle()).toBe('w1/0/3')
      await st.uncordon()
      expect(api.nodes.get('node-a')?.spec.unschedulable).not.toBe(true)
      expect(await st.leftoverCycle()).toBeUndefined()
      await kube.setUnschedulable('node-a', true) // kubectl cordon
      expect(await st.leftoverCycle()).toBeUndefined()
      expect(CYCLE_ANNOTATION).toBe('shoal.dev/upgrade-cycle')
      await kube.close()
    } finally {
      await api.close()
    }
  })

  it('the cycle mark carries the boot that set it (a restart in that boot is not a reboot); the maintenance mark lives until uncordon', async () => {
    const api = new FakeKubeApiServer()
    await api.start()
    try {
      api.addNode({ name: 'node-a', ready: true })
      const kube = new KubeClient(kubeconfigFromText(api.kubeconfig(), '/'))
      const inBoot = (bootId?: string) => new RealSteps({ host: 'node-a', observer: {} as HealthObserver, ceph: undefined, kube, coordinatorUrl: 'http://127.0.0.1:1', keyring, clock: { now: () => 0 }, assignDeadlineMs: 1000, wait: async () => {}, ...(bootId ? { bootId } : {}) })
      const first = inBoot('boot-1')
      expect(await first.cordonedThisBoot()).toBeUndefined() // no mark: nothing to tell
      await first.cordon(lease)
      expect(await inBoot('boot-1').cordonedThisBoot()).toBe(true) // the agent restarted
      expect(await inBoot('boot-2').cordonedThisBoot()).toBe(false) // the machine rebooted
      expect(await inBoot().cordonedThisBoot()).toBeUndefined() // no boot id known: cannot tell
      // An agent that knows no boot id leaves none behind: a later one cannot tell either.
      await inBoot().cordon(lease)
      expect(await inBoot('boot-1').cordonedThisBoot()).toBeUndefined()

      expect(await first.maintenanceMark()).toBeUndefined()
      await first.markMaintenance('w7')
      expect(await inBoot('boot-9').maintenanceMark()).toBe('w7')
      await first.uncordon()
      expect(await first.maintenanceMark()).toBeUndefined()
      expect(api.nodes.get('node-a')?.metadata.annotations ?? {}).toEqual({})
      await kube.close()
    } finally {
      await api.close()
    }
  })
})
