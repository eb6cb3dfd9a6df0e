/**
 * UpgradeSteps on real parts, and the Rebooters.
 *
 * - Gates: one probe round through agent/health's HealthObserver, judged by preReboot /
 *   postReboot. They fail closed: a probe that throws is a failed gate with its message.
 * - noout: `ceph osd set-group noout HOST` / `unset-group` for this node's CRUSH host.
 * - cordon / uncordon / drain: KubeClient + drainNode (Eviction API, PDB-aware, deadline;
 *   `force` also evicts pods no controller owns).
 * - assign: POST /v1/assign on the coordinator, signed by the node key over
 *   assignSigningText; retried while the coordinator has not seen the grant yet.
 * A source skipped on purpose (the demo skips Ceph and Kubernetes) makes its step a no-op,
 * logged once per cycle, exactly as the gates state it in `skipped`.
 */
import { execFile } from 'node:child_process'
import { postReboot, preReboot, type GateResult } from '../health/gates.js'
import type { HealthObserver } from '../health/health-observer.js'
import type { CephProbe } from '../health/ceph-probe.js'
import type { KubeClient } from '../health/kube-client.js'
import { drainNode } from '../health/kube-drain.js'
import { KubeNode } from '../health/kube-schemas.js'
import { signAssign, type SignedAssignClaim } from '../protocol/assign-proof.js'
import { ShoalError } from '../protocol/errors.js'
import { backoffDelay } from '../protocol/backoff.js'
import { httpExchange } from '../http/http-client.js'
import { silentLogger, type Clock, type Keyring, type Logger, type Rebooter } from '../protocol/ports.js'
import type { Lease } from '../protocol/vote/index.js'
import { cycleMark } from '../protocol/upgrade-cycle/index.js'
import type { GateVerdict, UpgradeSteps } from './executor.js'

export { assignSigningText } from '../protocol/assign-proof.js'

/** The body of POST /v1/assign for `lease`, signed with the node's key (agent/protocol/assign-proof.ts). */
export function assignRequest(lease: Lease, keyring: Pick<Keyring, 'sign'>): SignedAssignClaim {
  return signAssign({ node: lease.holder, wave: lease.wave, slot: lease.slot, term: lease.term }, keyring)
}

/**
 * Set on the Kubernetes node while a reboot cycle has it cordoned, removed at uncordon:
 * `<wave>/<slot>/<term>`. A node that boots with it and holds no lease (the wave was
 * aborted or replaced, or its slot force-released, while it was down) knows the cordon
 * and noout are its own leftovers and finishes the cycle (post gate, uncordon, noout
 * cleared) — an operator's own cordon carries no mark and is left alone.
 */
export const CYCLE_ANNOTATION = 'shoal.dev/upgrade-cycle'
/** The boot id of the boot that set CYCLE_ANNOTATION (boot-id.ts). */
export const CYCLE_BOOT_ANNOTATION = 'shoal.dev/upgrade-cycle-boot'
/** Set while a maintenance verb holds the node (its wave): a restarted agent stays held without the coordinator. */
export const MAINTENANCE_ANNOTATION = 'shoal.dev/maintenance'

/** Between asks for a boot assignment: 100 ms doubling to 2 s (the grant reaches the coordinator through the mesh within seconds). */
const ASSIGN_BACKOFF = { initialMs: 100, maxMs: 2000, factor: 2, jitter: 0 } as const
/** The answer is a few fields; a coordinator answering more is not one. */
const ASSIGN_ANSWER_BYTES = 64 * 1024

export { cycleMark }

export interface RealStepsOptions {
  /** CRUSH host and Kubernetes node name of this machine. */
  host: string
  observer: HealthObserver
  /** Undefined when Ceph is skipped on purpose. */
  ceph: CephProbe | undefined
  /** Undefined when Kubernetes is skipped on purpose. */
  kube: KubeClient | undefined
  coordinatorUrl: string
  keyring: Pick<Keyring, 'sign'>
  clock: Clock
  assignDeadlineMs: number
  /** Waits between assign retries (production: a timer). */
  wait(ms: number): Promise<void>
  /**
   * The joint set right now: every node this one sees down, holding a slot or rebooting
   * (agent/protocol/joint-safety.ts). The pre gate and the joint check ask ok-to-stop for
   * this node's OSDs plus theirs. Unset: this node alone.
   */
  jointWith?: () => readonly string[]
  logger?: Logger
  /** This boot's id (boot-id.ts), written beside the cycle mark. Absent: none written, cordonedThisBoot cannot tell. */
  bootId?: string
}

/** A verdict the executor reads, with the skipped sources appended so nobody mistakes a skip for a check. */
export function verdictOf(r: GateResult): GateVerdict {
  return { pass: r.pass, reasons: r.pass ? r.skipped : [...r.reasons, ...r.skipped] }
}

export class RealSteps implements UpgradeSteps {
  private readonly log: Logger

  constructor(private readonly o: RealStepsOptions) {
    this.log = o.logger ?? silentLogger
  }

  async preGate(): Promise<GateVerdict> {
    return this.gate('pre')
  }

  /** The joint question again, right before the reboot: same gate, the joint set as of now. */
  async jointCheck(): Promise<GateVerdict> {
    return this.gate('pre')
  }

  async postGate(): Promise<GateVerdict> {
    return this.gate('post')
  }

  async setNoout(): Promise<void> {
    if (!this.o.ceph) return this.skipped('noout set')
    await this.o.ceph.setNoout(this.o.host)
  }

  async clearNoout(): Promise<void> {
    if (!this.o.ceph) return this.skipped('noout clear')
    await this.o.ceph.unsetNoout(this.o.host)
  }

  /**
   * Cordons, and marks the node with the cycle (CYCLE_ANNOTATION) so that a boot after a
   * lost lease can finish it, and with this boot's id (CYCLE_BOOT_ANNOTATION) so that an
   * agent restart is not taken for the reboot (boot-id.ts).
   */
  async cordon(lease: Lease): Promise<void> {
    if (!this.o.kube) return this.skipped('cordon')
    await this.patchNode({ spec: { unschedulable: true }, metadata: { annotations: { [CYCLE_ANNOTATION]: cycleMark(lease), [CYCLE_BOOT_ANNOTATION]: this.o.bootId ?? null } } })
  }

  async uncordon(): Promise<void> {
    if (!this.o.kube) return this.skipped('uncordon')
    await this.patchNode({ spec: { unschedulable: null }, metadata: { annotations: { [CYCLE_ANNOTATION]: null, [CYCLE_BOOT_ANNOTATION]: null, [MAINTENANCE_ANNOTATION]: null } } })
  }

  async markMaintenance(wave: string): Promise<void> {
    if (!this.o.kube) return this.skipped('maintenance mark')
    await this.patchNode({ metadata: { annotations: { [MAINTENANCE_ANNOTATION]: wave } } })
  }

  async maintenanceMark(): Promise<string | undefined> {
    if (!this.o.kube) return undefined
    return (await this.o.kube.getNode(this.o.host)).metadata.annotations?.[MAINTENANCE_ANNOTATION] ?? undefined
  }

  async cordonedThisBoot(): Promise<boolean | undefined> {
    if (!this.o.kube || this.o.bootId === undefined) return undefined
    const marked = (await this.o.kube.getNode(this.o.host)).metadata.annotations?.[CYCLE_BOOT_ANNOTATION]
    return marked ? marked === this.o.bootId : undefined
  }

  async leftoverCycle(): Promise<string | undefined> {
    if (!this.o.kube) return undefined
    const n = await this.o.kube.getNode(this.o.host)
    return n.metadata.annotations?.[CYCLE_ANNOTATION] ?? undefined
  }

  private async patchNode(body: unknown): Promise<void> {
    await this.o.kube!.call('PATCH', `/api/v1/nodes/${encodeURIComponent(this.o.host)}`, KubeNode, { body, contentType: 'application/merge-patch+json' })
  }

  async drain(deadlineMs: number, force: boolean): Promise<{ ok: boolean; blocking: string[] }> {
    if (!this.o.kube) {
      this.skipped('drain')
      return { ok: true, blocking: [] }
    }
    const r = await drainNode(this.o.kube, this.o.host, { deadlineMs, force })
    this.log.info({ component: 'upgrade', node: this.o.host, evicted: r.evicted.length, blocking: r.blocking.length, ms: r.ms }, 'drain finished')
    return { ok: r.drained, blocking: r.blocking.map((b) => `${b.namespace}/${b.name} (${b.reason})`) }
  }

  /**
   * Asks the coordinator to boot this node on the wave's target. A 403 `no-lease` means the
   * coordinator has not seen our grant yet (it travels through the mesh): retried until the
   * deadline. Any other refusal is final.
   */
  async assign(lease: Lease, target: string): Promise<void> {
    const body = JSON.stringify(assignRequest(lease, this.o.keyring))
    const url = new URL('/v1/assign', this.o.coordinatorUrl)
    const deadline = this.o.clock.now() + this.o.assignDeadlineMs
    for (let attempt = 1; ; attempt++) {
      let why: string
      let final = false
      try {
        const res = await httpExchange(url, { method: 'POST', json: body, timeoutMs: 10_000, maxBytes: ASSIGN_ANSWER_BYTES, errorBodyBytes: 4096 })
        const text = res.body.toString('utf8')
        if (res.status === 200) {
          this.log.info({ component: 'upgrade', node: lease.holder, wave: lease.wave, target, attempt }, 'boot assignment granted')
          return
        }
        let code = 'http-' + res.status
        let message = text.slice(0, 300)
        try {
          const j = JSON.parse(text) as { error?: { code?: string; message?: string } }
          code = j.error?.code ?? code
          message = j.error?.message ?? message
        } catch {}
        why = `${code}: ${message}`
        final = res.status >= 400 && res.status < 500 && !(res.status === 403 && code === 'no-lease')
      } catch (err) {
        why = `coordinator unreachable at ${url.origin}: ${(err as Error).message}`
      }
      if (final) throw new ShoalError('refused', `the coordinator refused to assign ${target} to ${lease.holder}: ${why}`)
      const delay = backoffDelay(ASSIGN_BACKOFF, attempt - 1, () => 0)
      if (this.o.clock.now() + delay > deadline) throw new ShoalError('unreachable', `boot assignment of ${target} not granted within ${Math.round(this.o.assignDeadlineMs / 1000)} s: ${why}`)
      await this.o.wait(delay)
    }
  }

  async osdOut(): Promise<void> {
    if (!this.o.ceph) return this.skipped('osd out')
    const ids = await this.o.ceph.osdOut(this.o.host)
    this.log.warn({ component: 'upgrade', node: this.o.host, osds: ids }, 'decommission: OSDs marked out')
  }

  async osdIn(): Promise<void> {
    if (!this.o.ceph) return this.skipped('osd in')
    const ids = await this.o.ceph.osdIn(this.o.host)
    this.log.warn({ component: 'upgrade', node: this.o.host, osds: ids }, 'decommission undone (its lease was lost): OSDs marked in again')
  }

  async dataMoved(): Promise<GateVerdict> {
    if (!this.o.ceph) return { pass: true, reasons: ['ceph: skipped'] }
    try {
      return await this.o.ceph.dataMoved(this.o.host)
    } catch (err) {
      return { pass: false, reasons: [`cannot tell whether Ceph moved the data, waiting: ${(err as Error).message}`] }
    }
  }

  private async gate(which: 'pre' | 'post'): Promise<GateVerdict> {
    try {
      const jointWith = which === 'pre' ? (this.o.jointWith?.() ?? []) : []
      const round = await this.o.observer.observe(which, jointWith.length ? { jointWith } : {})
      return verdictOf(which === 'pre' ? preReboot(round.obs) : postReboot(round.obs))
    } catch (err) {
      return { pass: false, reasons: [`${which}-reboot gate could not be evaluated, failing closed: ${(err as Error).message}`] }
    }
  }

  private skipped(step: string): void {
    this.log.info({ component: 'upgrade', node: this.o.host, step }, `${step}: source skipped on purpose`)
  }
}

/**
 * Production: `reboot -f` — the init's orderly shutdown is skipped on purpose: the node runs
 * from RAM (nothing to flush), and noout, cordon and drain already happened. Needs root.
 */
export class SystemRebooter implements Rebooter {
  constructor(private readonly log: Logger = silentLogger) {}

  reboot(reason: string): Promise<void> {
    this.log.warn({ component: 'upgrade', reason }, 'rebooting (reboot -f)')
    return this.run('reboot')
  }

  /** A node verb's shutdown: `poweroff -f` (as the reboot: nothing to flush, already drained). */
  powerOff(reason: string): Promise<void> {
    this.log.warn({ component: 'upgrade', reason }, 'powering off (poweroff -f)')
    return this.run('poweroff')
  }

  private run(cmd: 'reboot' | 'poweroff'): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile(cmd, ['-f'], { timeout: 30_000 }, (err, _out, stderr) => {
        if (err) reject(new ShoalError('reboot', `${cmd} -f failed: ${stderr.trim() || err.message} (the agent must run as root)`, { cause: err }))
        else resolve()
      })
    })
  }
}

/** The exit code a process-exit "reboot" ends with; the supervisor restarts the agent on its new image. */
export const REBOOT_EXIT_CODE = 75
/** The exit code a process-exit "power-off" ends with (a node verb's shutdown): the supervisor does not restart it. */
export const POWEROFF_EXIT_CODE = 76

/**
 * Live tests and the demo: the process exits with code 75 after `flushMs` (so the phase
 * `rebooting` leaves in a gossip round), like a machine going down. Its supervisor
 * (test/support/live-cluster.ts, the demo) starts it again on the assigned image.
 */
export class ProcessExitRebooter implements Rebooter {
  constructor(
    private readonly log: Logger = silentLogger,
    private readonly flushMs = 200,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
  ) {}

  reboot(reason: string): Promise<void> {
    this.log.warn({ component: 'upgrade', reason, code: REBOOT_EXIT_CODE }, 'rebooting (process exit)')
    return this.exitSoon(REBOOT_EXIT_CODE)
  }

  powerOff(reason: string): Promise<void> {
    this.log.warn({ component: 'upgrade', reason, code: POWEROFF_EXIT_CODE }, 'powering off (process exit)')
    return this.exitSoon(POWEROFF_EXIT_CODE)
  }

  private exitSoon(code: number): Promise<void> {
    return new Promise((resolve) => {
      setTimeout(() => {
        this.exit(code)
        resolve()
      }, this.flushMs)
    })
  }
}
