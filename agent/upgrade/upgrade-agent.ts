/**
 * UpgradeAgent: attaches the wave machinery to a running agent's mesh runtime.
 *
 *   WaveGate (coordinator key)  ->  MeshClusterView (roster = the wave's roster)
 *     -> VoteNode (role 'node'; a RAM boot forgets: mayHaveForgotten)  -> VoteRuntime
 *     -> on 'lease-acquired' (a new slot, or our own slot reclaimed after the reboot):
 *        UpgradeExecutor over RealSteps + a Rebooter
 *   plus the gate loop (gate-rounds.ts): probe rounds judged by the pre- and post-reboot
 *   gates, published as the record's health — kicked here when another node's phase or
 *   image changes, or the joint set does. This class is the wave runtime: the vote, the
 *   executor (each lease's start planned by lease-plan.ts), the phase (joining, ready, a leftover cycle, maintenance) and the node's
 *   labels; its CRUSH host follows its rack through rack-placement.ts.
 *
 * status() is what GET /v1/self shows under `wave`.
 */
import type { HealthObserver, Round } from '../health/health-observer.js'
import { neverStops, type Blocker, type StopFacts } from '../protocol/stop-facts.js'
import { HealthSources } from '../health/health-sources.js'
import type { Phase } from '../protocol/node-record.js'
import { crushMoveWaits } from '../health/crush-location.js'
import type { MemberView, MeshEvent, SelfPatch } from '../protocol/mesh-types.js'
import { silentLogger, type Clock, type Keyring, type Logger, type Rebooter, type Store } from '../protocol/ports.js'
import { VoteNode, voteConfig, type Lease } from '../protocol/vote/index.js'
import { WaveGate } from '../protocol/wave-control.js'
import { slotHolders } from '../protocol/joint-safety.js'
import { UpgradeExecutor, type ExecutorOutcome, type UpgradeSteps } from './executor.js'
import { leftoverAction } from './leftover-action.js'
import { KubeEventRecorder, SHOAL_LABELS, labelValue } from '../health/kube-events.js'
import { rebooterWithEvents, stepsWithEvents } from './step-events.js'
import { MeshClusterView } from './mesh-cluster-view.js'
import { ProcessExitRebooter, RealSteps, SystemRebooter } from './real-steps.js'
import type { UpgradeConfig } from '../protocol/upgrade-config.js'
import { VoteRuntime, type MeshPort } from './vote-runtime.js'
import { GateRounds, type GateStatus } from './gate-rounds.js'
import { RackPlacement } from './rack-placement.js'
import { CONTROL_WAIT_MS, LeasePlan } from './lease-plan.js'

/** What the upgrade agent needs of the mesh runtime (agent/mesh MeshRuntime satisfies it). */
export interface UpgradeMeshPort extends MeshPort {
  view(): MemberView[]
  /** One member of view() without building all of it (MeshRuntime has it; fakes may not). */
  member?(id: string): MemberView | undefined
  updateSelf(patch: SelfPatch): void
}

export interface UpgradeAgentOptions {
  nodeId: string
  /** The image this process booted (the wave's target decides whether we are a candidate). */
  image: string
  keyring: Keyring
  mesh: UpgradeMeshPort
  config: UpgradeConfig
  clock: Clock
  /** Where vote promises survive a process restart (none: memory only, as after a RAM boot). */
  store?: Store
  logger?: Logger
  /** Where gate rounds are reported for /metrics (agent/api AgentMetrics). */
  metrics?: { observeRound(ms: Round['ms']): void; observeGates(pre: boolean, post: boolean): void }
  /** Where Kubernetes Events and node labels go (default: the configured Kubernetes API, when the real steps are used). */
  events?: KubeEventRecorder
  /** Tests: replace the real steps, the rebooter or the health observer. */
  steps?: UpgradeSteps
  rebooter?: Rebooter
  observer?: HealthObserver
  /** This node's failure domain: its Ceph CRUSH host is put under `rack=DOMAIN` at start (agent/health/crush-location.ts). */
  domain?: string
  /** The load figure the ranking reads (default: 1-minute load average per core, agent/health/workload.ts). */
  load?: () => number
  /** This boot's id (boot-id.ts bootIdFor), written beside the cycle mark: a restart in the same boot is not a reboot. Absent: not told apart. */
  bootId?: string
}

/** The upgrade part of GET /v1/self. */
export interface UpgradeStatus {
  wave: string | undefined
  target: string | undefined
  image: string
  phase: Phase
  reason: string | undefined
  lease: Lease | undefined
  abstaining: boolean
  /** Collecting votes for a request of its own right now. */
  busy: boolean
  /** How this node's vote sees each wave roster member (what its budget and ranking count). */
  members: { id: string; available: boolean; image: string | undefined; pre: boolean | undefined }[]
  slots: { slot: number; term: number; holder: string | undefined; promisedTo: string[] }[]
  held: { held: boolean; reason: string | undefined; halted: boolean }
  gates: GateStatus | undefined
  /**
   * Why this node is not going down for the wave now, in words (its hold, its pre-gate's
   * reasons) — and `never`: causes that cannot clear by themselves, with what to change.
   */
  blocked: { reasons: string[]; never: Blocker[] }
  /** The Ceph/Kubernetes facts this node publishes about stopping itself (HealthSummary.stop). */
  stop: StopFacts | undefined
  executor: { step: string; at: number; note?: string } | undefined
  counters: Record<string, number>
}

/** Longest wait for a first live peer before the vote starts anyway. 60 s: a mesh join takes seconds. */
const JOIN_WAIT_MS = 60_000

export class UpgradeAgent {
  /** Created once the mesh has joined (see start()). */
  vote: VoteNode | undefined
  runtime: VoteRuntime | undefined
  readonly view: MeshClusterView
  readonly gate: WaveGate
  readonly executor: UpgradeExecutor
  /** The gate loop and the record it publishes. */
  private readonly rounds: GateRounds
  private readonly sources: HealthSources | undefined
  /** This node's CRUSH host under its rack (rack-placement.ts). */
  private readonly rack: RackPlacement
  /** What each lease's cycle starts as (lease-plan.ts). */
  private readonly plan: LeasePlan
  /** Kubernetes Events and node labels (undefined when Kubernetes is not configured). */
  readonly events: KubeEventRecorder | undefined
  private readonly log: Logger
  private phase: Phase = 'joining'
  private reason: string | undefined
  private closed = false
  private started = false
  private readonly seen = new Map<string, string>()
  private readonly counters: Record<string, number> = {}
  private joinDeadline = Infinity
  /**
   * When this process began: any vote of a life it forgot was cast before it. The vote
   * judges "may I have voted in this wave and forgotten it?" from this, not from when the
   * vote itself started (after the mesh join, seconds later): with the later time, every
   * member of a cluster that had just powered on took itself for forgetful, and the
   * coordinator's start rule (after each member's boot second + maxClockSkewMs) could not
   * see that time (found by the QEMU wave: three workers abstaining for good).
   */
  private readonly bootAt: number
  private readonly steps: UpgradeSteps
  /** The leftover-cycle check after boot: not yet, running, or done. */
  private leftover: 'unchecked' | 'checking' | 'done' = 'unchecked'
  /** In maintenance (a node verb): drained and held, phase draining, until the coordinator no longer lists it as held. */
  private maintenance: { since: number; wave: string | undefined } | undefined

  constructor(private readonly o: UpgradeAgentOptions) {
    this.bootAt = o.clock.now()
    const c = o.config
    this.log = o.logger ?? silentLogger
    const host = c.host ?? o.nodeId
    this.rack = new RackPlacement({ nodeId: o.nodeId, host, logger: this.log, count: (name) => this.count(name) }, o.domain)
    let observer = o.observer
    let steps = o.steps
    if (!observer || !steps) {
      this.sources = new HealthSources({
        ...(c.cephConf ? { cephConf: c.cephConf } : {}),
        ...(c.cephKeyring ? { cephKeyring: c.cephKeyring } : {}),
        ...(c.cephName ? { cephName: c.cephName } : {}),
        ...(c.kubeconfig ? { kubeconfig: c.kubeconfig } : {}),
        ...(c.kubeletUrl ? { kubeletUrl: c.kubeletUrl } : {}),
        skip: c.skip,
        timeoutMs: c.probeTimeoutMs,
      })
      observer ??= this.sources.observer(host)
      const cephSetting = observer.options.ceph
      const ceph = 'run' in cephSetting ? cephSetting : undefined
      this.rack.probe = ceph
      const kube = 'client' in this.sources.kube ? this.sources.kube.client : undefined
      steps ??= new RealSteps({
        host,
        observer,
        ceph,
        kube,
        coordinatorUrl: c.coordinatorUrl,
        keyring: o.keyring,
        clock: o.clock,
        assignDeadlineMs: c.assignDeadlineMs,
        wait: (ms) => this.wait(ms),
        jointWith: () => this.jointWith(),
        logger: this.log,
        ...(o.bootId !== undefined ? { bootId: o.bootId } : {}),
      })
    }
    const kube = this.sources && 'client' in this.sources.kube ? this.sources.kube.client : undefined
    this.events = o.events ?? (kube && !o.steps ? new KubeEventRecorder({ kube, node: host, clock: o.clock, logger: this.log }) : undefined)
    const cycle = { target: () => this.vote?.currentWave()?.target, image: () => o.image }
    if (this.events) steps = stepsWithEvents(steps, this.events, cycle)
    this.steps = steps
    this.rounds = new GateRounds({
      nodeId: o.nodeId,
      observer,
      mesh: o.mesh,
      clock: o.clock,
      logger: this.log,
      gateIntervalMs: c.gateIntervalMs,
      jointWith: () => this.jointWith(),
      state: () => ({ phase: this.phase, reason: this.reason, maintenanceSince: this.maintenance?.since }),
      load: o.load,
      metrics: o.metrics,
      onVerdictsChanged: () => this.executor.poke(),
      afterRound: () => this.afterRound(),
      onPublished: () => this.runtime?.input({ type: 'view-changed' }),
      count: (name) => this.count(name),
    })
    this.gate = new WaveGate(c.coordinatorKey, o.keyring)
    this.view = new MeshClusterView(o.mesh, o.clock, this.gate)
    this.view.wave = () => this.vote?.currentWave()?.id
    let rebooter = o.rebooter ?? (c.rebooter === 'exit' ? new ProcessExitRebooter(this.log) : new SystemRebooter(this.log))
    if (this.events) rebooter = rebooterWithEvents(rebooter, this.events, cycle)
    this.executor = new UpgradeExecutor({
      steps,
      rebooter,
      fenceValid: (l) => this.vote?.fenceValid(l) ?? false,
      target: () => this.vote?.currentWave()?.target,
      image: () => o.image,
      setPhase: (p, why) => this.setPhase(p, why),
      released: (l) => this.runtime?.input({ type: 'gate', lease: l, passed: true }),
      clock: o.clock,
      wait: (ms) => this.wait(ms),
      policy: { drainDeadlineMs: c.drainDeadlineMs, drainPolicy: c.drainPolicy, verifyTimeoutMs: c.verifyTimeoutMs, verifyPollMs: c.verifyPollMs },
      logger: this.log,
    })
    this.plan = new LeasePlan({
      nodeId: o.nodeId,
      image: o.image,
      steps,
      target: () => this.vote?.currentWave()?.target,
      verb: () => this.gate.verb(),
      closed: () => this.closed,
      clock: o.clock,
      wait: (ms) => this.wait(ms),
      logger: this.log,
    })
  }

  /** Attaches to the mesh and starts the vote and the gate loop. Idempotent. */
  start(): void {
    if (this.started || this.closed) return
    this.started = true
    // Registered before the vote runtime's listener: the view's cache is dropped before the vote reads it.
    // 'joining' until the vote has relearned whether this node holds a slot from before a
    // reboot: published as 'ready' at once, a node whose post gate already passes would be
    // "healthy and available" to its own vote, which then gives up reclaiming the slot —
    // and the node would stay cordoned with noout set while the next one goes down.
    this.o.mesh.updateSelf({ phase: 'joining' })
    this.labelNode()
    this.o.mesh.on('event', this.onMeshEvent)
    this.joinDeadline = this.o.clock.now() + JOIN_WAIT_MS
    this.maybeStartVote()
    this.rounds.start()
  }

  /**
   * The vote starts once this node sees another member alive (or after JOIN_WAIT_MS): a
   * node that lost its memory asks the mesh for the wave and its promises after its quiet
   * period, and gives up after a few unanswered rounds — asked before the mesh has joined
   * (which takes seconds after a reboot), nobody would hear it and a lease it holds would
   * never be reclaimed.
   */
  private maybeStartVote(): void {
    if (this.vote || this.closed) return
    const others = this.o.mesh.view().filter((m) => m.id !== this.o.nodeId && m.status === 'alive').length
    if (others === 0 && this.o.clock.now() < this.joinDeadline) return
    const c = this.o.config
    this.vote = new VoteNode({
      id: this.o.nodeId,
      keyring: this.o.keyring,
      view: this.view,
      config: voteConfig(c.vote ?? {}),
      coordinatorKey: c.coordinatorKey,
      role: 'node',
      now: this.bootAt,
      // This process remembers nothing of a previous boot (RAM boot, or a restart without a store).
      mayHaveForgotten: true,
      logger: this.log,
    })
    this.runtime = new VoteRuntime({ vote: this.vote, mesh: this.o.mesh, clock: this.o.clock, ...(this.o.store ? { store: this.o.store } : {}), gate: this.gate, logger: this.log })
    this.runtime.on('lease-acquired', (lease) => void this.onLease(lease))
    this.runtime.on('lease-lost', (lease, why) => this.log.warn({ component: 'upgrade', node: this.o.nodeId, lease, why }, 'lease lost'))
    // A record or member changed (a holder released, rebooted, came back): a holder waiting
    // at its pre-gate or joint check tries again now rather than at its next poll.
    this.runtime.on('view-changed', () => this.executor.poke())
    this.runtime.start()
    this.log.info({ component: 'upgrade', node: this.o.nodeId, aliveOthers: others }, 'vote started')
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.rounds.close()
    this.o.mesh.off('event', this.onMeshEvent)
    this.runtime?.close()
    await this.sources?.close()
  }

  status(): UpgradeStatus {
    const v = this.vote?.view() ?? { wave: undefined, target: undefined, lease: undefined, abstaining: true, slots: [] }
    this.syncRoster()
    return {
      wave: v.wave,
      target: v.target,
      image: this.o.image,
      phase: this.phase,
      reason: this.reason,
      lease: v.lease,
      abstaining: v.abstaining,
      busy: this.vote?.busy ?? false,
      members: this.view.roster.map((id) => {
        const f = this.view.facts(id)
        return { id, available: f?.available ?? false, image: f?.image, pre: this.view.member(id)?.record?.health.gates?.pre }
      }),
      slots: v.slots,
      held: this.view.held(),
      gates: this.rounds.gates,
      // A candidate: not on the target (or the pending subject of a node verb, which keeps its image).
      blocked: this.blocked(v.wave !== undefined && v.target !== this.gate.viewImage(this.o.nodeId, this.o.image, v.wave) && !v.lease, v.slots),
      stop: this.rounds.stop,
      executor: this.executor.last,
      counters: { ...this.counters, ...this.runtime?.counters, ...this.vote?.counters },
    }
  }

  /**
   * The joint set now: every roster member this node sees down, holding a slot or rebooting,
   * plus the slot holders its vote knows (joint-safety.ts). Sorted.
   */
  jointWith(): string[] {
    this.syncRoster()
    const holders = this.vote ? slotHolders(this.vote.view().slots) : []
    return this.view.jointSet(this.o.nodeId, holders)
  }

  /** Why a candidate is not moving (empty when it is not a candidate or nothing holds it). */
  private blocked(candidate: boolean, slots: UpgradeStatus['slots']): UpgradeStatus['blocked'] {
    const never = neverStops(this.rounds.stop)
    if (!candidate) return { reasons: [], never }
    const reasons: string[] = []
    const h = this.view.held()
    if (h.held && h.reason) reasons.push(`hold: ${h.reason}`)
    // The budget as this node's vote counts it: holders plus every roster member not available.
    const down = new Set<string>()
    for (const s of slots) if (s.holder) down.add(s.holder)
    for (const id of this.view.roster) if (id !== this.o.nodeId && !this.view.facts(id)?.available) down.add(id)
    if (slots.length > 0 && down.size >= slots.length) reasons.push(`budget: K=${slots.length}, ${down.size} unavailable now (${[...down].slice(0, 4).join(', ')}${down.size > 4 ? ', …' : ''})`)
    const gates = this.rounds.gates
    if (gates && !gates.pre) reasons.push(...gates.preReasons.map((r) => `pre-reboot gate: ${r}`))
    return { reasons, never }
  }

  private async onLease(lease: Lease): Promise<void> {
    this.count('leases')
    let out: ExecutorOutcome
    try {
      out = await this.executor.onLease(lease, await this.plan.options(lease))
      // Done with this wave's verb, if it has one — also when the lease came back after the
      // reboot before the control message did (the verb unknown then): else the node would be
      // the verb's subject again until the coordinator says done, and could go round twice.
      if (out === 'released' || out === 'held' || out === 'decommissioned') this.gate.verbDone(lease.wave)
      if (out === 'held') {
        this.maintenance = { since: this.o.clock.now(), wave: lease.wave }
        // On the node itself, so a restarted agent stays held while the coordinator is away.
        await this.steps.markMaintenance?.(lease.wave).catch((err: Error) => {
          this.count('maintenance-mark-errors')
          this.log.warn({ component: 'upgrade', node: this.o.nodeId, err: err.message }, 'could not write the maintenance mark on the node; a restart while the coordinator is away would end the maintenance after 30 s')
        })
      }
    } catch (err) {
      // A step that threw (noout, cordon, assign): the node may be half-way down. Fail
      // visibly; the wave halts on it and the operator decides (resume or rollback).
      const why = `upgrade step failed: ${(err as Error).message}`
      this.log.error({ component: 'upgrade', node: this.o.nodeId, lease, err: (err as Error).message }, why)
      this.setPhase('failed', why)
      return
    }
    this.log.info({ component: 'upgrade', node: this.o.nodeId, lease, outcome: out }, 'upgrade cycle step done')
    if (out === 'released') this.kick()
  }

  private setPhase(p: Phase, why?: string): void {
    this.phase = p
    this.reason = why
    this.o.mesh.updateSelf({ phase: p })
    this.rounds.publish(true)
    this.labelNode()
  }

  /** shoal's node id, image and wave state as labels (where the value is a valid label) and annotations on the Kubernetes node. */
  private labelNode(): void {
    if (!this.events) return
    const wave = this.vote?.currentWave()
    const values: Record<string, string | null> = {
      [SHOAL_LABELS.nodeId]: this.o.nodeId,
      [SHOAL_LABELS.image]: this.o.image,
      [SHOAL_LABELS.waveState]: this.phase,
      [SHOAL_LABELS.wave]: wave ? `${wave.id} -> ${wave.target}` : null,
    }
    const labels: Record<string, string | null> = {}
    for (const k of [SHOAL_LABELS.nodeId, SHOAL_LABELS.image, SHOAL_LABELS.waveState]) labels[k] = labelValue(values[k] ?? undefined) ?? null
    void this.events.label(labels, values)
  }

  private readonly onMeshEvent = (e: MeshEvent): void => {
    if (e.type !== 'record' && e.type !== 'member') return
    this.view.invalidate()
    if (!this.vote) this.maybeStartVote()
    if (e.type === 'record') {
      // Another node changed phase or image (went down, came back, released): our own
      // pre-gate verdict (ok-to-stop with what is down now) is stale. Re-judge now.
      const m = this.o.mesh.member ? this.o.mesh.member(e.id) : this.o.mesh.view().find((v) => v.id === e.id)
      const r = m?.record
      const key = r ? `${r.phase}|${r.image}` : ''
      if (e.id !== this.o.nodeId && this.seen.get(e.id) !== key) {
        this.seen.set(e.id, key)
        this.kick()
        return
      }
    }
    // A member died or came back: the joint set our published verdict was computed with changed.
    if (this.rounds.gates && e.id !== this.o.nodeId && this.jointWith().join(',') !== this.rounds.jointKey) this.kick()
  }

  private syncRoster(): void {
    const w = this.vote?.currentWave()
    if (w && this.view.roster.length !== w.roster.length) this.view.roster = w.roster.map((r) => r.id)
  }

  /** A gate round as soon as possible (coalesced with one running). */
  private kick(): void {
    this.rounds.kick()
  }

  /** After every gate round: the wave runtime's own work, on the verdicts just published. */
  private afterRound(): void {
    this.syncRoster()
    this.rack.maybePlace(() => crushMoveWaits(this.phase, this.vote?.currentWave(), this.view.roster.map((id) => this.view.facts(id)?.image)))
    // Time passes for the halt rule (overdue nodes) even when no gossip arrives.
    if (!this.vote) this.maybeStartVote()
    this.runtime?.input({ type: 'view-changed' })
    this.maybeReady()
    this.maybeEndMaintenance()
  }

  /**
   * Maintenance ends when the coordinator's control message no longer lists this node as
   * held — once the coordinator has concluded the verb: while the verb's own wave is still
   * running (right after the hold, before the coordinator has seen it) an unlisted node is
   * not yet listed, not released. The cycle is then finished as a leftover (post gate,
   * uncordon, clear noout, ready). Ending it needs no slot: it only makes the node more
   * available.
   */
  private maybeEndMaintenance(): void {
    const m = this.maintenance
    const c = this.gate.current()
    if (!m || this.closed || !c || this.gate.held(this.o.nodeId) === 'maintenance') return
    if (c.wave === m.wave && (c.state === 'running' || c.state === 'paused')) return
    this.maintenance = undefined
    this.log.info({ component: 'upgrade', node: this.o.nodeId }, 'maintenance ended: finishing its cycle (post gate, uncordon, noout)')
    void this.steps.leftoverCycle().then(
      (mark) => {
        if (mark === undefined) return this.setPhase('ready')
        void this.executor.finishLeftover(mark).then((out) => {
          this.log.info({ component: 'upgrade', node: this.o.nodeId, cycle: mark, outcome: out }, 'maintenance cycle finished')
          this.kick()
        })
      },
      (err: Error) => {
        // Unknown (Kubernetes unreachable): still held; asked again next round.
        this.maintenance = { ...m, since: m.since }
        this.count('leftover-check-errors')
        this.log.warn({ component: 'upgrade', node: this.o.nodeId, err: err.message }, 'could not read the cycle mark to end maintenance; staying held')
      },
    )
  }

  /**
   * Out of 'joining' once the vote knows we hold nothing (a held slot goes through the
   * executor instead) — unless this node booted cordoned for a cycle whose lease is gone
   * (its wave was aborted or replaced while it was down): then the executor finishes that
   * cycle first, and the node stays unavailable until it has.
   */
  private maybeReady(): void {
    const v = this.vote
    if (this.phase !== 'joining' || !v || v.abstaining || v.busy || v.currentLease() || this.executor.last) return
    if (this.leftover === 'checking') return
    if (this.leftover === 'unchecked') {
      this.leftover = 'checking'
      const marks = async () => {
        const mark = await this.steps.leftoverCycle()
        const maintenance = mark !== undefined && (await this.steps.maintenanceMark?.()) !== undefined
        return { mark, maintenance }
      }
      void marks().then(
        ({ mark, maintenance }) => {
          // A reclaim started meanwhile: the executor has it; look again if that ends without a lease.
          if (v.currentLease() || v.busy) {
            this.leftover = 'unchecked'
            return
          }
          if (this.closed || this.phase !== 'joining') {
            this.leftover = 'done'
            return
          }
          const control = this.gate.current() !== undefined
          const action = leftoverAction({ mark, maintenance, control, heldNow: this.gate.held(this.o.nodeId) === 'maintenance', sinceBootMs: this.o.clock.now() - this.bootAt, controlWaitMs: CONTROL_WAIT_MS })
          if (action === 'wait') {
            // Cordoned by a cycle, and no word from the coordinator yet: it may say this node is held.
            this.leftover = 'unchecked'
            return
          }
          this.leftover = 'done'
          if (action === 'ready' || mark === undefined) return this.setPhase('ready')
          if (action === 'hold') {
            // Still in maintenance (an agent restart, or a reboot, while held; or the coordinator
            // is away and the node's maintenance mark says so): stay drained and held. The next
            // control message that does not list it ends the maintenance (maybeEndMaintenance).
            this.maintenance = { since: this.o.clock.now(), wave: undefined }
            if (!control) this.log.warn({ component: 'upgrade', node: this.o.nodeId, cycle: mark }, 'in maintenance by its node mark, the coordinator not heard yet: staying held until it says otherwise')
            return this.setPhase('draining', `in maintenance (cycle ${mark}): drained and held until maintenance is turned off`)
          }
          void this.executor.finishLeftover(mark).then((out) => {
            this.log.info({ component: 'upgrade', node: this.o.nodeId, cycle: mark, outcome: out }, 'leftover cycle step done')
            this.kick()
          })
        },
        (err: Error) => {
          // Unknown (Kubernetes unreachable): stay 'joining' and ask again next round.
          this.leftover = 'unchecked'
          this.count('leftover-check-errors')
          this.log.warn({ component: 'upgrade', node: this.o.nodeId, err: err.message }, 'could not check for a leftover cycle; staying unavailable')
        },
      )
      return
    }
    this.setPhase('ready')
  }

  /** A domain learned after start (LLDP): Ceph's CRUSH location follows it at the next round. */
  setDomain(domain: string): void {
    this.rack.setDomain(domain)
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms))
  }

  private count(name: string): void {
    this.counters[name] = (this.counters[name] ?? 0) + 1
  }
}
