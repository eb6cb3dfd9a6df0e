/**
 * Upgrade waves on the coordinator: validate, fix the roster, sign and publish through the
 * coordinator's VoteNode, persist in level, answer status from the mesh view plus the
 * vote view, broadcast the signed wave control (running/paused/aborted/done, window,
 * alerts, node timeout), and grant boot assignments only to proven lease holders.
 *
 * This class owns the state and the order of things; the ideas live beside it:
 *   wave-verbs.ts        the operator's verbs (start, pause, resume, abort, rollback,
 *                        force-release), run inside the lock on a WaveCore (wave-core.ts)
 *   wave-control-publisher.ts  the signed control: signing, broadcasting, alerts, refresh
 *   wave-stall-clock.ts  how long the wave has stood still
 *   wave-create.ts       a request's checks, --at, the record it becomes
 *   wave-dry-run.ts      roster, selector, previous version, candidates, the dry run
 *   wave-control-msg.ts  the signed control (schedule, alerts) and the alert source poll
 *   wave-watch.ts        node progress, completion, canary, stall
 *   wave-status.ts       the status the API answers
 *   wave-assign.ts       who may have a boot assignment, and the grant
 *   wave-store.ts        level keys (wave!seq, wave!w<N>)
 *
 * Level keys beside those (and the coordinator's own, see state-store.ts):
 *   wavevote!vote/w<N>  the coordinator VoteNode's snapshot (msgpack, base64; level-vote-store.ts)
 *   meta!mesh-seed      the coordinator's mesh/vote key seed (coordinator/mesh-peer.ts)
 */
import type { NodeIdentity } from '../../agent/mesh/identity.js'
import { silentLogger, type Clock, type Logger } from '../../agent/protocol/ports.js'
import { voteConfig, type VoteConfig } from '../../agent/protocol/vote/vote-config.js'
import { VoteNode, type PersistedVote, type VoteInput } from '../../agent/protocol/vote/vote-node.js'
import { decodeVoteMessage } from '../../agent/protocol/vote/vote-codec.js'
import { loadPersistedVote, VoteRuntime, type MeshPort } from '../../agent/upgrade/vote-runtime.js'
import { WaveGate, type Hold, type WaveControlMsg } from '../../agent/protocol/wave-control.js'
import type { ClusterState } from '../cluster-state.js'
import { HttpError } from '../../agent/http/index.js'
import type { ImageStore } from '../image-store.js'
import { COORDINATOR_MESH_ID } from '../mesh-peer.js'
import type { StateStore } from '../state-store.js'
import { CoordinatorView, type MemberSource } from './coordinator-view.js'
import { levelVoteStore, waveVoteKey } from './level-vote-store.js'
import type { AssignLeaseRequest, DryRun, StoredWave, WaveCreate, WaveStatus } from './wave-api.js'
import { checkAssignment, grantAssignment } from './wave-assign.js'
import { blockedCounts, startVerdict, unavailable, waveBlocks, type BlockCode, type NodeBlock } from './wave-blockers.js'
import { ControlPublisher } from './wave-control-publisher.js'
import type { WaveCore } from './wave-core.js'
import { newStoredWave } from './wave-create.js'
import { candidates, dryRun, fixRoster } from './wave-dry-run.js'
import { StallClock } from './wave-stall-clock.js'
import { abortWave, createWave, forceReleaseSlot, pauseWave, resumeWave, rollbackWave } from './wave-verbs.js'
import { waveStatus } from './wave-status.js'
import { ACTIVE, DEFAULT_STALL_MS, loadWaves, saveNewWave, saveWave } from './wave-store.js'
import { DEFAULT_RETURNING, loadHeld, saveHeld, verbThrough, type HeldNode, type NodeVerbAnswer, type StoredVerb } from './node-verbs.js'
import type { ReturningPolicy } from '../state-store.js'
import { verbText, type VerbKind } from '../../agent/protocol/node-verbs.js'
import { isAvailable, memberAvailability } from '../../agent/protocol/availability.js'
import { canaryThrough, finished as waveFinished, refreshNodes, stallKey, stallReason } from './wave-watch.js'

export interface WaveServiceDeps {
  state: ClusterState
  store: StateStore
  images: ImageStore
  /** The coordinator's mesh/vote identity (coordinator/mesh-peer.ts coordinatorIdentity). */
  identity: NodeIdentity
  clock: Clock
  members: MemberSource
  /** The mesh (the coordinator's MeshRuntime, or a LinkMeshPort without one): vote and control messages in and out. */
  mesh: MeshPort
  log?: Logger
  vote?: Partial<VoteConfig>
  /** Progress bookkeeping and the halt rule run this often. 1 s: status is live to a second. */
  tickMs?: number
  /** The control message is re-broadcast this often, so a node that missed it (or booted) learns it. 3 s. */
  controlEveryMs?: number
  /** Alertmanager polling interval. 15 s: alert rules evaluate on that order. */
  alertPollMs?: number
}

export class WaveService {
  private readonly waves = new Map<string, StoredWave>()
  private order: string[] = []
  private seq = 0
  private lock: Promise<unknown> = Promise.resolve()
  private readonly view: CoordinatorView
  private readonly gate: WaveGate
  /** The lead's vote glue (agent/upgrade/vote-runtime.ts), the same the agents run. */
  readonly voteRuntime: VoteRuntime
  /** Vote bytes handed in by deliverVote that did not decode, by reason. */
  readonly counters: Record<string, number> = {}
  private readonly vote: VoteNode
  private readonly control: ControlPublisher
  private timer: NodeJS.Timeout | undefined
  private alertTimer: NodeJS.Timeout | undefined
  /** Waves whose per-node progress changed since it was last written. */
  private readonly dirty = new Set<string>()
  /** Stall watch of the latest wave. */
  private readonly stall = new StallClock()
  /** Nodes held out of service by a node verb (maintenance, shut down), persisted (node-verbs.ts). */
  private held: HeldNode[] = []
  private readonly log: Logger
  /** What the operator verbs may use of this service (wave-core.ts). */
  private readonly core: WaveCore

  private constructor(
    private readonly deps: WaveServiceDeps,
    persisted: PersistedVote | undefined,
  ) {
    this.log = deps.log ?? silentLogger
    this.gate = new WaveGate(deps.identity.publicKey, deps.identity.keyring)
    this.view = new CoordinatorView(deps.members, () => this.hold())
    this.view.selected = (id) => this.gate.selected(id)
    this.view.viewImage = (id, image) => this.gate.viewImage(id, image, this.vote?.currentWave()?.id)
    this.vote = new VoteNode({
      id: COORDINATOR_MESH_ID,
      keyring: deps.identity.keyring,
      view: this.view,
      config: voteConfig(deps.vote),
      coordinatorKey: deps.identity.publicKey,
      role: 'coordinator',
      now: deps.clock.now(),
      persisted,
      mayHaveForgotten: false,
      logger: this.log,
    })
    this.voteRuntime = new VoteRuntime({ vote: this.vote, mesh: deps.mesh, clock: deps.clock, store: levelVoteStore(deps.store), gate: this.gate, logger: this.log })
    this.control = new ControlPublisher({ clock: deps.clock, mesh: deps.mesh, keyring: deps.identity.keyring, gate: this.gate, vote: this.vote, everyMs: deps.controlEveryMs ?? 3000, held: () => this.held })
    this.core = {
      state: deps.state,
      images: deps.images,
      clock: deps.clock,
      log: this.log,
      keyring: deps.identity.keyring,
      view: this.view,
      vote: this.vote,
      voteRuntime: this.voteRuntime,
      find: (id) => this.find(id),
      wave: (id) => this.waves.get(id),
      save: (w) => this.save(w),
      refresh: (w) => this.refresh(w),
      settled: (w) => this.settled(w),
      active: () => this.active(),
      setState: (w, state, reason, by) => this.setState(w, state, reason, by),
      runVote: (input) => this.runVote(input),
      hold: () => this.hold(),
      publishControl: (w) => this.control.publish(w),
      restartStallClock: () => this.stall.restart(deps.clock.now()),
      startWave: (...args) => this.startWave(...args),
      status: (w) => this.status(w),
    }
  }

  /** Loads every stored wave and the vote snapshot; re-publishes the current wave. */
  static async open(deps: WaveServiceDeps): Promise<WaveService> {
    const { seq, waves } = await loadWaves(deps.store)
    const latest = waves[waves.length - 1]
    const persisted = latest ? await loadPersistedVote(levelVoteStore(deps.store), waveVoteKey(latest.id)) : undefined
    const svc = new WaveService(deps, persisted)
    svc.held = await loadHeld(deps.store)
    svc.seq = seq
    for (const w of waves) svc.waves.set(w.id, w)
    svc.order = waves.map((w) => w.id)
    if (latest) {
      if (svc.vote.currentWave()?.id !== latest.id) {
        // Stored but never published (a crash between the two writes): publish now.
        await svc.publish(latest)
      } else {
        svc.control.broadcastWave()
      }
      svc.control.publish(latest)
      svc.log.info({ component: 'waves', wave: latest.id, state: latest.state }, 'wave restored')
    }
    return svc
  }

  start(): void {
    this.voteRuntime.start()
    const tick = this.deps.tickMs ?? 1000
    this.timer = setInterval(() => void this.tick().catch((err) => this.log.warn({ component: 'waves', err: (err as Error).message }, 'wave tick failed')), tick)
    this.timer.unref()
    this.alertTimer = setInterval(() => void this.pollAlerts(), this.deps.alertPollMs ?? 15_000)
    this.alertTimer.unref()
    void this.pollAlerts()
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    if (this.alertTimer) clearInterval(this.alertTimer)
    await this.lock.catch(() => undefined)
    await this.voteRuntime.idle()
    this.voteRuntime.close()
  }

  /** The newest wave, if any. */
  latest(): StoredWave | undefined {
    const id = this.order[this.order.length - 1]
    return id ? this.waves.get(id) : undefined
  }

  /** Vote bytes from outside the mesh port (tests, tools): decoded at the edge, bad ones counted. */
  async deliverVote(from: string, body: Uint8Array): Promise<void> {
    const d = decodeVoteMessage(body)
    if (!d.ok) {
      this.counters[`dropped.${d.reason}`] = (this.counters[`dropped.${d.reason}`] ?? 0) + 1
      return
    }
    await this.runVote({ type: 'message', from, msg: d.msg })
  }

  /** One vote input, carried out (persist included) before this resolves. */
  private async runVote(input: VoteInput): Promise<void> {
    this.voteRuntime.input(input)
    await this.voteRuntime.idle()
  }

  // ---- operations ------------------------------------------------------------------------

  create(body: WaveCreate, by: string): Promise<WaveStatus | DryRun> {
    return this.exclusive(() => createWave(this.core, body, by))
  }

  list(): WaveStatus[] {
    return [...this.order].reverse().map((id) => this.status(this.waves.get(id)!))
  }

  get(id: string): WaveStatus {
    return this.status(this.find(id))
  }

  pause(id: string, by: string): Promise<WaveStatus> {
    return this.exclusive(() => pauseWave(this.core, id, by))
  }

  resume(id: string, by: string): Promise<WaveStatus> {
    return this.exclusive(() => resumeWave(this.core, id, by))
  }

  abort(id: string, by: string): Promise<WaveStatus> {
    return this.exclusive(() => abortWave(this.core, id, by))
  }

  /** Abort (if still active) and start a wave back to the version the nodes ran before. */
  rollback(id: string, by: string): Promise<WaveStatus> {
    return this.exclusive(() => rollbackWave(this.core, id, by))
  }

  forceRelease(id: string, node: string, by: string): Promise<{ wave: string; node: string; slot: number; term: number }> {
    return this.exclusive(() => forceReleaseSlot(this.core, id, node, by))
  }

  /** POST /v1/assign: a proven lease holder's boot script moves to the wave's target. */
  async assign(r: AssignLeaseRequest, remote: string | undefined): Promise<{ node: string; image: string; wave: string; slot: number; term: number }> {
    await this.voteRuntime.idle()
    const w = checkAssignment(this.core, r, remote)
    return this.exclusive(() => grantAssignment(this.core, w, r, remote))
  }

  // ---- node verbs (node-verbs.ts) ----------------------------------------------------------

  /** The nodes held out of service now (maintenance, shut down). */
  heldNodes(): HeldNode[] {
    return this.held.map((h) => ({ ...h }))
  }

  /**
   * A node verb: a one-node wave through the vote, under K (default 1) and the same gates
   * as any wave. 404 for a node that is not enrolled; 409 while another wave runs, for a
   * node already held, or one the coordinator's mesh view has no record of.
   */
  nodeVerb(node: string, kind: VerbKind, by: string, maxUnavailable = 1, opts: { returning?: ReturningPolicy } = {}): Promise<NodeVerbAnswer> {
    return this.exclusive(async () => {
      if (!this.deps.state.nodes.has(node)) throw new HttpError(404, 'unknown-node', `no enrolled node "${node}" (list them: shoal coordinator nodes)`)
      const h = this.held.find((x) => x.node === node)
      if (h) throw new HttpError(409, 'conflict', h.kind === 'maintenance' ? `node ${node} is already in maintenance (since ${new Date(h.since).toISOString()}, by ${h.by}); end it first: shoal node maintenance off ${node}` : `node ${node} is shut down (since ${new Date(h.since).toISOString()}); power it on first — it counts as unavailable until it is back`)
      const active = await this.settled(this.active())
      if (active) throw new HttpError(409, 'conflict', active.verb ? `node verb ${active.verb.kind} of ${active.verb.node} (wave ${active.id}) is still ${active.state}; one wave or verb runs at a time — wait for it (shoal upgrade status ${active.id}) or: shoal upgrade abort ${active.id}` : `wave ${active.id} (to ${active.target}) is ${active.state}; a node verb is a one-node wave and waits until it ends (or: shoal upgrade abort ${active.id})`)
      this.view.refresh()
      const rec = this.view.member(node)?.record
      const image = rec?.image
      if (!image) throw new HttpError(409, 'conflict', `node ${node} has no record in the coordinator's mesh view (is its agent up?); a verb goes through the vote, which needs it alive`)
      const body = { target: image, maxUnavailable: maxUnavailable as WaveCreate['maxUnavailable'], failureDomain: 'none', drainPolicy: 'halt' as const, nodeTimeoutMs: 30 * 60_000, stallTimeoutMs: DEFAULT_STALL_MS, force: false, dryRun: false }
      const returning = kind === 'decommission' ? (opts.returning ?? DEFAULT_RETURNING) : undefined
      const w = await this.startWave(body, fixRoster(this.deps.state), image, by, undefined, [node], { node, kind, inc: rec.inc, ...(returning ? { returning } : {}) })
      this.log.info({ component: 'waves', wave: w.id, node, kind, by, returning }, 'node verb started')
      const after = returning === 'refuse' ? `; if the machine boots again it is refused (lift it: shoal coordinator forget-retired ${node})` : returning === 'new' ? '; if the machine boots again it enrolls as a new machine' : ''
      return { node, kind, wave: w.id, state: w.state, message: `${verbText(kind)} of ${node}: wave ${w.id}, at most ${maxUnavailable} node(s) unavailable; it takes a slot through the vote once the budget and gates allow (follow: shoal upgrade status ${w.id})${after}` }
    })
  }

  /** Ends a node's maintenance: it finishes its cycle (post gate, uncordon, noout) and is available again. No slot needed. */
  maintenanceOff(node: string, by: string): Promise<NodeVerbAnswer> {
    return this.exclusive(async () => {
      const h = this.held.find((x) => x.node === node && x.kind === 'maintenance')
      if (!h) {
        const w = this.latest()
        if (w?.verb?.node === node && w.verb.kind === 'maintenance' && ACTIVE.has(w.state)) throw new HttpError(409, 'conflict', `node ${node} is not in maintenance yet: its verb (wave ${w.id}) is ${w.state}; abort it instead: shoal upgrade abort ${w.id}`)
        throw new HttpError(this.deps.state.nodes.has(node) ? 409 : 404, this.deps.state.nodes.has(node) ? 'conflict' : 'unknown-node', `node ${node} is not in maintenance (held now: ${this.held.map((x) => `${x.node} (${x.kind})`).join(', ') || 'none'})`)
      }
      this.held = this.held.filter((x) => x !== h)
      await saveHeld(this.deps.store, this.held)
      await this.deps.state.audit({ kind: 'wave', node, detail: { op: 'maintenance-off', wave: h.wave, by } })
      const w = this.latest()
      if (w) this.control.publish(w)
      this.log.info({ component: 'waves', node, by }, 'maintenance ended')
      return { node, kind: 'maintenance-off', state: 'ending', message: `maintenance of ${node} ended: it passes its post gate, uncordons and clears noout, then counts as available again` }
    })
  }

  /** Whether a verb's wave is through; then it is done, and the node held (maintenance, shutdown) or removed (decommission). Inside exclusive(). */
  private async watchVerb(w: StoredWave): Promise<void> {
    const v = w.verb!
    const snap = this.vote.currentWave()?.id === w.id ? this.vote.snapshot() : undefined
    const inSlot = !!snap?.slots.some((s) => s.grant?.holder === v.node || s.promises.some((p) => p.cand === v.node))
    if (!v.granted && snap?.slots.some((s) => s.grant?.holder === v.node)) {
      v.granted = true
      await this.save(w)
    }
    if (!verbThrough(v, this.view.member(v.node), inSlot)) return await this.watchStall(w)
    const now = this.deps.clock.now()
    if (v.kind === 'maintenance' || v.kind === 'shutdown') {
      this.held = [...this.held.filter((h) => h.node !== v.node), { node: v.node, kind: v.kind, since: now, by: w.createdBy, wave: w.id }]
      await saveHeld(this.deps.store, this.held)
    }
    // A verb stored before the choice existed keeps what its operator was promised: new.
    if (v.kind === 'decommission' && this.deps.state.nodes.has(v.node)) await this.deps.state.removeNode(v.node, `decommission (wave ${w.id}, by ${w.createdBy})`, { returning: v.returning ?? 'new', wave: w.id })
    await this.deps.state.audit({ kind: 'wave', node: v.node, detail: { wave: w.id, op: `verb-${v.kind}-done`, by: w.createdBy } })
    await this.setState(w, 'done', `${verbText(v.kind)} of ${v.node}: through`, 'coordinator')
  }

  /** A shut-down node that is back (alive, available) is no longer held. Inside exclusive(). */
  private async watchHeld(): Promise<void> {
    const back = this.held.filter((h) => h.kind === 'shutdown' && isAvailable(memberAvailability(this.view.member(h.node))))
    if (back.length === 0) return
    this.held = this.held.filter((h) => !back.includes(h))
    await saveHeld(this.deps.store, this.held)
    for (const h of back) await this.deps.state.audit({ kind: 'wave', node: h.node, detail: { op: 'shutdown-back', wave: h.wave, by: 'coordinator' } })
    const w = this.latest()
    if (w) this.control.publish(w)
  }

  // ---- internals -------------------------------------------------------------------------

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn)
    this.lock = run.catch(() => undefined)
    return run
  }

  private find(id: string): StoredWave {
    const w = id === 'current' ? this.latest() : this.waves.get(id)
    if (!w) throw new HttpError(404, 'not-found', id === 'current' ? 'no wave yet (start one: shoal upgrade start --to VERSION)' : `no wave ${id} (see: shoal upgrade status)`)
    return w
  }

  /** `w`, unless it is running and finished: then it is marked done now and undefined returned. Inside exclusive(). */
  private async settled(w: StoredWave | undefined): Promise<StoredWave | undefined> {
    if (!w || w.state !== 'running') return w
    this.refresh(w)
    if (!this.finished(w)) return w
    await this.setState(w, 'done', 'every node is on the target (or written off)', 'coordinator')
    return undefined
  }

  private active(): StoredWave | undefined {
    return [...this.waves.values()].find((w) => ACTIVE.has(w.state))
  }

  private async startWave(b: WaveCreate, roster: { id: string; key: string }[], previous: string | undefined, by: string, rollbackOf?: string, selected?: string[], verb?: StoredVerb): Promise<StoredWave> {
    const now = this.deps.clock.now()
    const id = `w${this.seq + 1}`
    const nodes: StoredWave['nodes'] = {}
    const taken = selected ?? roster.map((r) => r.id)
    for (const n of taken) nodes[n] = { state: 'waiting', since: now }
    // The canary: the best-ranked candidates now (the dry run's order), then the others by id.
    let canary: StoredWave['canary']
    if (b.canary) {
      const ranked = dryRun(this.view, b, taken, previous).order
      const cands = candidates(this.view, taken, b.target)
      canary = { nodes: [...new Set([...ranked, ...cands])].slice(0, b.canary), passed: false }
    }
    const w = newStoredWave(b, { id, now, by, roster, previous, nodes, canary, rollbackOf, selected })
    if (verb) w.verb = { ...verb }
    await saveNewWave(this.deps.store, this.seq + 1, w)
    this.seq++
    this.waves.set(id, w)
    this.order.push(id)
    await this.publish(w)
    // Pin every node without an assignment to what it runs now: only a lease moves it (a
    // reboot outside the wave must not pick up the newest version by default).
    this.view.refresh()
    for (const r of roster) {
      if (this.deps.state.nodeAssignments.has(r.id)) continue
      const img = this.view.member(r.id)?.record?.image
      if (img && img !== b.target && (await this.deps.images.hasVersion(img))) await this.deps.state.assign({ node: r.id }, img, `wave ${id} (pin)`)
    }
    await this.deps.state.audit({ kind: 'wave', image: b.target, ...(verb ? { node: verb.node } : {}), detail: { wave: id, op: verb ? `verb-${verb.kind}` : rollbackOf ? 'rollback' : 'start', rollbackOf, maxUnavailable: b.maxUnavailable, failureDomain: b.failureDomain, nodes: roster.length, by, ...(verb?.returning ? { returning: verb.returning } : {}) } })
    this.control.publish(w)
    this.log.info({ component: 'waves', wave: id, target: b.target, slots: b.maxUnavailable, nodes: roster.length, rollbackOf }, 'wave started')
    return w
  }

  private async publish(w: StoredWave): Promise<void> {
    const prev = this.vote.currentWave()
    const startedAt = Math.max(w.createdAt, (prev?.startedAt ?? -1) + 1)
    await this.runVote({
      type: 'publish-wave',
      wave: {
        id: w.id,
        target: w.target,
        slots: w.maxUnavailable,
        policy: w.failureDomain === 'domain' ? 'one-at-a-time' : 'rank',
        roster: w.roster,
        coord: { id: COORDINATOR_MESH_ID, key: this.deps.identity.publicKey },
        startedAt,
      },
    })
  }

  private async setState(w: StoredWave, state: StoredWave['state'], reason: string, by: string): Promise<void> {
    w.state = state
    w.stateAt = this.deps.clock.now()
    w.stateReason = reason
    await this.save(w)
    await this.deps.state.audit({ kind: 'wave', image: w.target, detail: { wave: w.id, op: state, by } })
    this.control.publish(w)
    this.log.info({ component: 'waves', wave: w.id, state, reason }, 'wave state')
  }

  private save(w: StoredWave): Promise<void> {
    this.dirty.delete(w.id)
    return saveWave(this.deps.store, w)
  }

  /** Whether new slots are held back (the coordinator's own judgement, for its tie-break vote). */
  private hold(): Hold {
    const w = this.latest()
    if (!w) return { held: true, reason: 'no wave', halted: false }
    const now = this.deps.clock.now()
    this.gate.observe(
      w.roster.map((r) => r.id).filter((id) => !this.retired().has(id)),
      (id) => this.view.member(id),
      now,
    )
    return this.gate.hold(now)
  }

  private retired(): Set<string> {
    return new Set(this.vote.snapshot().retired)
  }

  /** Re-broadcasts the current wave and control message (a new member may have missed them). */
  announce(): void {
    this.control.announce()
  }

  /** The current control message (tests, API). */
  currentControl(): WaveControlMsg | undefined {
    return this.control.current()
  }

  /** Progress bookkeeping, completion and the control re-broadcast (runs on the timer; tests call it). */
  async tick(): Promise<void> {
    const w = this.latest()
    if (!w) return
    await this.exclusive(async () => {
      this.refresh(w)
      if (this.dirty.delete(w.id)) await this.save(w)
      await this.watchHeld()
      if (w.verb && w.state === 'running') await this.watchVerb(w)
      else if (ACTIVE.has(w.state) && this.finished(w)) await this.setState(w, 'done', 'every node is on the target (or written off)', 'coordinator')
      else if (w.state === 'running' && w.canary && canaryThrough(w, this.retired())) {
        // The canary is through: pause for the operator, who looks and resumes (the rest then).
        w.canary.passed = true
        await this.setState(w, 'paused', `canary: ${w.canary.nodes.length} node(s) on ${w.target} (${w.canary.nodes.join(', ')}); check them, then: shoal upgrade resume ${w.id}`, 'coordinator')
      } else await this.watchStall(w)
    })
    this.control.keepFresh(w)
  }

  /**
   * The stall halt: a running wave in which nothing changed (node states, slot holders) for
   * its stallTimeoutMs while nothing held it and every node was up halts with the reason
   * (wave-stall-clock.ts says what counts).
   */
  private async watchStall(w: StoredWave): Promise<void> {
    const now = this.deps.clock.now()
    if (w.state !== 'running' || w.halt) {
      // Paused (or halted already): this time is not the wave's to account for.
      this.stall.restart(now)
      return
    }
    const snap = this.vote.currentWave()?.id === w.id ? this.vote.snapshot() : undefined
    // A node that is down is the node timeout's to judge (its own halt), not a stall.
    const someoneDown = w.roster.some((r) => !this.retired().has(r.id) && unavailable(this.view.member(r.id)) !== undefined)
    const limit = w.stallTimeoutMs ?? DEFAULT_STALL_MS
    const stalledMs = this.stall.observe(stallKey(w, snap), () => this.hold().held || someoneDown, now, limit)
    if (stalledMs === undefined) return
    const reason = stallReason(this.blocks(w), stalledMs, limit)
    w.halt = { at: now, reason }
    await this.save(w)
    await this.deps.state.audit({ kind: 'wave', image: w.target, detail: { wave: w.id, op: 'halt', reason: 'stall', by: 'coordinator' } })
    this.control.publish(w)
    this.log.warn({ component: 'waves', wave: w.id, reason }, 'wave halted: stalled')
  }

  /** Why each waiting node of `w` is not moving (empty unless the wave is active). */
  private blocks(w: StoredWave): Map<string, NodeBlock[]> {
    if (!ACTIVE.has(w.state)) return new Map()
    const snap = this.vote.currentWave()?.id === w.id ? this.vote.snapshot() : undefined
    const holders = new Set<string>()
    for (const s of snap?.slots ?? []) if (s.grant) holders.add(s.grant.holder)
    const hold = w.state === 'paused' ? { held: true, reason: `wave ${w.id} is paused`, halted: false } : w.halt ? { held: true, reason: w.halt.reason.split(' — ')[0], halted: true } : this.hold()
    this.view.refresh()
    return waveBlocks({
      target: w.target,
      maxUnavailable: w.maxUnavailable,
      roster: w.roster.map((r) => r.id),
      retired: new Set(snap?.retired ?? []),
      holders,
      member: (id) => this.view.member(id),
      hold,
    })
  }

  /** True while the newest wave runs halted (stall, or a failed or overdue node). */
  haltedNow(): boolean {
    const w = this.latest()
    if (!w || w.state !== 'running') return false
    return !!w.halt || this.hold().halted
  }

  /** Waiting nodes of the newest active wave by first reason (the shoal_wave_blocked_nodes gauge). */
  blockedNodes(): Record<BlockCode, number> | undefined {
    const w = this.latest()
    if (!w || !ACTIVE.has(w.state)) return undefined
    return blockedCounts(this.blocks(w))
  }

  /** Reads the wave's alert source once (on its timer; tests call it). Firing alerts its matchers choose (never Watchdog or InfoInhibitor) hold new slots back. */
  pollAlerts(): Promise<void> {
    return this.control.pollAlerts(this.latest())
  }

  /** Updates per-node states and their times from the views; true when something changed. */
  private refresh(w: StoredWave): boolean {
    this.view.refresh()
    const snap = this.vote.currentWave()?.id === w.id ? this.vote.snapshot() : undefined
    const changed = refreshNodes(w, (id) => this.view.member(id), snap, this.deps.clock.now())
    if (changed) this.dirty.add(w.id)
    return changed
  }

  /** Every roster node is on the target, or was written off by the operator (retired). */
  private finished(w: StoredWave): boolean {
    // A node verb's wave ends by its own rule (watchVerb); held nodes never hold up an upgrade wave.
    if (w.verb) return false
    const skip = this.vote.currentWave()?.id === w.id ? this.retired() : new Set<string>()
    for (const h of this.held) skip.add(h.node)
    return waveFinished(w, skip)
  }

  private status(w: StoredWave): WaveStatus {
    this.refresh(w)
    const blocks = this.blocks(w)
    return waveStatus(w, {
      snap: this.vote.currentWave()?.id === w.id ? this.vote.snapshot() : undefined,
      blocks,
      member: (id) => this.view.member(id),
      never: () => startVerdict(candidates(this.view, w.roster.map((r) => r.id), w.target).filter((id) => blocks.has(id)), (id) => this.view.member(id)).never,
      hold: () => this.hold(),
      finished: () => this.finished(w),
    })
  }
}
