/**
 * The coordinator: one HTTP server (boot scripts, images, enrollment, roster, admin API)
 * and the mesh's DHT bootstrap node, over the state in level. `start()` and `close()` are
 * idempotent; time and randomness are injected so tests drive token expiry by clock.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ShoalError } from '../agent/protocol/errors.js'
import type { ErrorCode, ForeignCode } from '../agent/protocol/error-codes.js'
import { silentLogger, type Clock, type Logger } from '../agent/protocol/ports.js'
import { startBootstrapNode, type BootstrapNode } from '../agent/mesh/bootstrap-node.js'
import type { MeshParam } from '../agent/protocol/kernel-params/index.js'
import { formatDomainParam } from '../agent/protocol/kernel-params/index.js'
import { addAdminRoutes } from './admin-routes.js'
import { addImageRoutes } from './image-routes.js'
import { CoordinatorPage } from './page-api.js'
import { recordShellSession, rosterWithOperators } from './operators.js'
import { SHELL_AUDIT_TOPIC, ShellSession } from '../agent/protocol/shell-channel.js'
import { unpack } from '../agent/protocol/frame.js'
import { layersParam, peersParam, renderBootScript, renderRefusal } from './boot-script.js'
import { ChunkBroker, layerPeersAnswer, randomRng, runningChunkServers } from './chunk-broker.js'
import { layerRoutes } from '../agent/protocol/layer-chunks.js'
import { ClusterState } from './cluster-state.js'
import { meshTimingOf, type CoordinatorConfig } from './coordinator-config.js'
import { type ClusterInfo, EnrollRequest, type JoinTokenResponse, Mac, routes } from '../agent/protocol/enroll/index.js'
import { enroll } from './enrollment.js'
import { HttpError, httpErrorOf, readJson, Router, sendError, sendJson, sendText, validate, type Exchange } from '../agent/http/index.js'
import { defaultIdentityResolver, type IdentityResolver } from './identity-resolver.js'
import { ImageStore } from './image-store.js'
import { CoordinatorMetrics } from './coordinator-metrics.js'
import { exposition, sendMetrics } from '../agent/http/metrics-registry.js'
import { PROTOCOL_VERSION } from '../agent/protocol/frame.js'
import { SOFTWARE_VERSION } from '../agent/protocol/software-version.js'
import { StateStore } from './state-store.js'
import { SourceRateLimit } from './source-rate-limit.js'
import { startWaves, type Waves, type WavesOptions } from './waves/index.js'
import { waveMetrics } from './waves/wave-metrics.js'
import { coordinatorOpenApi } from './openapi.js'
import { dnsmasqArgs, planDhcp, type DhcpPlan } from './dhcp-plan.js'
import { DhcpServer, interfacesWith } from './dhcp-server.js'

export interface CoordinatorDeps {
  clock?: Clock
  random?: (bytes: number) => Uint8Array
  log?: Logger
  resolver?: IdentityResolver
  /** Upgrade waves and the coordinator's mesh peer (coordinator/waves); tests inject members and links. */
  waves?: WavesOptions
  /** Authenticate every stored entry (default). Off only in the benchmark that measures what it costs. */
  stateIntegrity?: boolean
  /** The dnsmasq program and words before its arguments (tests: `ip netns exec NS dnsmasq`). */
  dhcpCommand?: string[]
}

const systemClock: Clock = { now: () => Date.now() }

export class Coordinator {
  private server: Server | undefined
  private dht: BootstrapNode | undefined
  private store: StateStore | undefined
  private _state: ClusterState | undefined
  private images: ImageStore | undefined
  private chunkBroker: ChunkBroker | undefined
  private sweepTimer: NodeJS.Timeout | undefined
  private _waves: Waves | undefined
  private dhcp: DhcpServer | undefined
  /** What the DHCP server answers (config.dhcp not 'off'), once started. */
  dhcpPlan: DhcpPlan | undefined
  private readonly dhcpCommand: string[] | undefined
  /** The cluster page and /v1/mesh/* (coordinator/page-api.ts). */
  private page: CoordinatorPage | undefined
  private readonly wavesOptions: WavesOptions | undefined
  private starting: Promise<void> | undefined
  private closing: Promise<void> | undefined
  /** Set on first start when no admin token was configured: written to <dataDir>/admin-token by main. */
  createdAdminToken: string | undefined
  private readonly clock: Clock
  private readonly random: (n: number) => Uint8Array
  private readonly log: Logger
  private readonly resolver: IdentityResolver
  /** config.meshTiming, parsed: the mesh peer's timing, and shoal.mesh= for the workers. */
  readonly meshTiming: MeshParam
  /** config.kernelArgs plus shoal.mesh= (when the timing is not the preset and not there already). */
  private readonly kernelArgs: string
  readonly metrics = new CoordinatorMetrics()
  private readonly tokenRate: SourceRateLimit
  private readonly stateIntegrity: boolean
  private readonly router = new Router<Exchange>((method, path) => new HttpError(404, 'not-found', `no route ${method} ${path}`))

  constructor(
    readonly config: CoordinatorConfig,
    deps: CoordinatorDeps = {},
  ) {
    this.clock = deps.clock ?? systemClock
    this.random = deps.random ?? ((n) => randomBytes(n))
    this.log = deps.log ?? silentLogger
    this.resolver = deps.resolver ?? defaultIdentityResolver
    this.wavesOptions = deps.waves
    this.stateIntegrity = deps.stateIntegrity ?? true
    this.dhcpCommand = deps.dhcpCommand
    const mesh = meshTimingOf(config)
    this.meshTiming = mesh.timing
    this.kernelArgs = mesh.kernelArgs
    this.tokenRate = new SourceRateLimit({ burst: config.joinTokenBurst, perMinute: config.joinTokensPerMinute }, this.clock)
    this.addRoutes()
  }

  start(): Promise<void> {
    // A start that fails half-way (port taken, damaged state) releases what it opened, so the process can exit.
    this.starting ??= this.doStart().catch(async (err) => {
      await this.teardown().catch(() => undefined)
      throw err
    })
    return this.starting
  }

  private async doStart(): Promise<void> {
    const c = this.config
    this.store = await StateStore.open(c.dataDir, { integrity: this.stateIntegrity })
    const { state, createdAdminToken } = await ClusterState.open(
      { store: this.store, clock: this.clock, random: this.random, log: this.log },
      { joinTokenTtlMs: c.joinTokenTtlMs, enrollRetryWindowMs: c.enrollRetryWindowMs, maxTokensPerMac: c.maxTokensPerMac, maxTokens: c.maxJoinTokens, auditMaxEntries: c.auditMaxEntries },
      { clusterId: c.clusterId, adminToken: c.adminToken },
    )
    this._state = state
    this.createdAdminToken = createdAdminToken
    this.images = new ImageStore(c.imagesDir, this.store, { id: state.clusterId, keyring: state.keyring })
    if (c.dhtPort >= 0) this.dht = await startBootstrapNode({ host: c.dhtHost, port: c.dhtPort })
    this._waves = await startWaves(
      { state, store: this.store, images: this.images, clock: this.clock, log: this.log, random: this.random, bootstrap: this.dht ? [this.dht.address] : undefined, meshHost: c.dhtHost, meshTiming: this.meshTiming, maxBodyBytes: c.maxBodyBytes, registry: this.metrics.registry },
      this.wavesOptions,
    )
    this.page = new CoordinatorPage(this._waves, state.clusterId)
    this.chunkBroker = new ChunkBroker(this.clock, randomRng(this.random), (version) => runningChunkServers(this._waves?.peer?.runtime.view() ?? [], version))
    // Shell sessions gossiped by the agents land in the audit log (kind 'shell').
    this._waves.peer?.runtime.on('event', (e) => {
      if (e.type !== 'app' || e.topic !== SHELL_AUDIT_TOPIC) return
      let parsed
      try {
        parsed = ShellSession.safeParse(unpack(e.body))
      } catch {
        return
      }
      if (parsed.success && parsed.data.node === e.from) void recordShellSession(state, parsed.data).catch((err) => this.log.warn({ component: 'coordinator', err: (err as Error).message }, 'shell audit not recorded'))
    })
    const waves = this._waves
    waves.addRoutes(this.router)
    waveMetrics(this.metrics.registry, () => waves.service.list(), this.clock.now(), () => this.clock.now())

    const server = createServer({ keepAliveTimeout: c.keepAliveTimeoutMs, requestTimeout: 120_000 }, (req, res) => {
      this.handle(req, res).catch((err) => this.fail(res, err))
    })
    server.headersTimeout = Math.max(c.keepAliveTimeoutMs + 1000, 60_000)
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
      else socket.destroy()
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new ShoalError('listen', `cannot listen on ${c.httpHost}:${c.httpPort}: ${err.message} (pick another --http-port)`, { cause: err })))
      server.listen(c.httpPort, c.httpHost, () => resolve())
    })
    this.server = server
    this.sweepTimer = setInterval(() => void this._state?.sweep().catch(() => undefined), 60_000)
    this.sweepTimer.unref()
    if (c.dhcp !== 'off') await this.startDhcp((server.address() as AddressInfo).port)
    this.log.info({ component: 'coordinator', cluster: state.clusterId, url: this.url, bootstrap: this.dht?.address }, 'coordinator started')
    this.log.info({ component: 'coordinator', approval: c.approval }, this.enrollmentTrust)
    // Hash the images now rather than on the first worker's boot.
    void this.images.versions().then((vs) => Promise.all(vs.map((v) => this.images!.manifest(v).catch((err) => this.log.warn({ component: 'images', version: v, err: (err as Error).message }, 'image version not servable')))))
  }

  /** dnsmasq on the workers' LAN, with the boot options pointing at this coordinator (./dhcp-plan.ts). */
  private async startDhcp(httpPort: number): Promise<void> {
    const c = this.config
    const ipxeFiles = await readdir(c.dhcpIpxeDir).catch(() => [] as string[])
    const plan = planDhcp(c, { interfaces: await interfacesWith(c.dhcpInterface ?? ''), httpPort, ipxeFiles, join })
    this.dhcp = new DhcpServer({ args: dnsmasqArgs(plan), command: this.dhcpCommand, log: this.log, rng: randomRng(this.random), onRestart: () => this.metrics.dhcpRestarts.inc() })
    await this.dhcp.start()
    this.dhcpPlan = plan
    const what = plan.mode === 'range' ? `leases ${plan.range!.start}-${plan.range!.end}` : `proxyDHCP beside the site's server on ${plan.network}`
    this.log.info({ component: 'dhcp', mode: plan.mode, interface: plan.interface, bootUrl: plan.bootUrl, ipxe: plan.ipxe }, `DHCP on ${plan.interface}: ${what}; iPXE clients boot ${plan.bootUrl}`)
    if (this.dhtUnreachable) this.log.warn({ component: 'dhcp', dhtHost: c.dhtHost }, this.dhtUnreachable)
    if (!plan.ipxe) this.log.warn({ component: 'dhcp', dir: c.dhcpIpxeDir }, `no iPXE binaries in ${c.dhcpIpxeDir}: machines whose NIC runs plain PXE (most servers) get nothing to boot; apt-get install ipxe (or put undionly.kpxe / snponly.efi in --dhcp-ipxe-dir). iPXE clients (QEMU, iPXE-flashed NICs) boot as they are`)
  }

  /** With --dhcp, a warning when the workers it boots could not reach the mesh's bootstrap node (it listens on loopback). */
  get dhtUnreachable(): string | undefined {
    const c = this.config
    if (c.dhcp === 'off' || !this.dht || !/^127\./.test(c.dhtHost) || c.bootstrapAdvertise?.length) return undefined
    return `the DHT bootstrap node listens on ${c.dhtHost}: the workers this DHCP boots will not reach it and cannot join the mesh; set --dht-host to the controller's address on ${c.dhcpInterface}${this.dhcpPlan ? ` (${this.dhcpPlan.address})` : ''}`
  }

  /** dnsmasq's pid while the DHCP server runs (tests). */
  get dhcpPid(): number | undefined {
    return this.dhcp?.pid
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.starting?.catch(() => undefined)
      await this.teardown()
    })()
    return this.closing
  }

  /** Releases whatever is open; safe to call on a half-started coordinator. */
  private async teardown(): Promise<void> {
    await this.dhcp?.close()
    await this.page?.close()
    if (this.sweepTimer) clearInterval(this.sweepTimer)
    this.sweepTimer = undefined
    const server = this.server
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    }
    await this._waves?.close()
    await this.dht?.close()
    await this._state?.exclusive(async () => undefined)
    await this._state?.flushSeal()
    await this.store?.close()
  }


  get state(): ClusterState {
    if (!this._state) throw new ShoalError('not-started', 'coordinator not started')
    return this._state
  }

  /** Upgrade waves (coordinator/waves): the service, the coordinator's mesh identity and peer. */
  get waves(): Waves {
    if (!this._waves) throw new ShoalError('not-started', 'coordinator not started')
    return this._waves
  }

  /** http://host:port the server listens on. */
  get url(): string {
    const a = this.server?.address() as AddressInfo | null
    if (!a) throw new ShoalError('not-started', 'coordinator not started')
    return `http://${this.config.httpHost}:${a.port}`
  }

  /**
   * One plain sentence on who can enroll, for the start banner and the log: with approval
   * off, reaching the coordinator is enough (the provisioning LAN is the trust boundary).
   */
  get enrollmentTrust(): string {
    return this.config.approval === 'off'
      ? 'enrollment is open: any machine that reaches this coordinator can enroll, and can take the id of an enrolled node that is not alive in the mesh by copying its fingerprint; the provisioning LAN is the trust boundary. Close it with --approval new-fingerprints'
      : 'enrollment needs approval for new machines and for known ids from another MAC or with changed parts (shoal coordinator pending)'
  }

  /** Every stored entry (tests assert that refused requests change nothing; backups). */
  dumpState(): Promise<[string, unknown][]> {
    if (!this.store) throw new ShoalError('not-started', 'coordinator not started')
    return this.store.dump()
  }

  /** The DHT bootstrap node's actual address (undefined when disabled). */
  get bootstrapAddress(): string | undefined {
    return this.dht?.address
  }

  // --- request handling ----------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x')
    const path = url.pathname
    const method = req.method ?? 'GET'
    // A GET with a body still streaming: answer, then close, rather than read it to its end.
    if ((method === 'GET' || method === 'HEAD') && !req.complete) res.setHeader('Connection', 'close')
    if (this.page && (path === '/' || path.startsWith('/page/') || path.startsWith('/v1/mesh')) && (await this.page.handle(req, res, path))) return
    await this.router.dispatch({ req, res, url, method }, method, path)
  }

  /** The routes of the coordinator itself; images (image-routes.ts), admin (admin-routes.ts) and waves (waves/wave-routes.ts) add theirs. */
  private addRoutes(): void {
    this.router
      .on(['GET'], routes.bootScript, ({ req, res, url }) => this.bootScript(req, res, url))
      .on(['GET'], routes.joinToken, async ({ req, res, url }) => {
        const mac = validate(Mac, url.searchParams.get('mac') ?? undefined, 'mac query parameter')
        this.refuseUnknownMac(mac)
        const wait = this.tokenRate.take(req.socket.remoteAddress ?? '?')
        if (wait > 0) throw new HttpError(429, 'rate-limited', `too many join tokens from ${req.socket.remoteAddress}; retry in ${Math.ceil(wait / 1000)} s (joinTokensPerMinute)`)
        const t = await this.issueToken(mac)
        sendJson(res, 200, { token: t.token, mac, expiresAt: t.expiresAt } satisfies JoinTokenResponse)
      })
      .on(['POST'], routes.enroll, async ({ req, res }) => {
        const body = validate(EnrollRequest, await readJson(req, this.config.maxBodyBytes), 'enrollment request')
        const out = await enroll(this.state, body, {
          bootstrap: this.bootstrapFor(req),
          defaultImage: () => this.defaultImage(),
          approval: this.config.approval,
          resolver: this.resolver,
          holderAlive: (id) => this.holderAlive(id),
          remote: req.socket.remoteAddress,
          log: this.log,
        })
        this.metrics.enrollments.inc({ outcome: out.status === 200 ? 'enrolled' : out.status === 202 ? 'pending' : 'refused', code: out.status === 403 || out.status === 409 ? out.code : '' })
        if (out.status === 403 || out.status === 409) return this.sendError(res, out.status, out.code, out.message)
        sendJson(res, out.status, out.body)
      })
      .on(['GET', 'HEAD'], routes.roster, ({ req, res, url }) => {
        // Agents poll the roster: an unchanged version costs a 304 and no signing.
        // ?operators=1: the roster with its operators (agents that know them ask; docs/shell.md).
        const withOperators = url.searchParams.get('operators') === '1'
        const etag = `"roster-${withOperators ? 'ops-' : ''}${this.state.clusterId}-${this.state.rosterVersion}"`
        if (req.headers['if-none-match'] === etag) {
          res.writeHead(304, { ETag: etag })
          return void res.end()
        }
        sendJson(res, 200, withOperators ? rosterWithOperators(this.state) : this.state.roster(), { ETag: etag })
      })
      .on(['GET', 'HEAD'], routes.cluster, ({ req, res }) =>
        sendJson(res, 200, {
          cluster: this.state.clusterId,
          clusterKey: this.state.publicKey,
          bootstrap: this.bootstrapFor(req),
          rosterVersion: this.state.rosterVersion,
        } satisfies ClusterInfo),
      )
      .on(['GET'], layerRoutes.peers, ({ res, url }) => sendJson(res, 200, layerPeersAnswer(this.chunkBroker!, url)))
      .on(['GET'], '/openapi.json', ({ res }) => sendJson(res, 200, coordinatorOpenApi()))
      .on('*', '/healthz', ({ res }) => sendJson(res, 200, { ok: true, version: SOFTWARE_VERSION, protocol: PROTOCOL_VERSION }))
      .on(['GET'], '/metrics', async ({ res }) => {
        const st = this.state
        this.metrics.rosterMembers.set(st.nodes.size)
        this.metrics.rosterVersion.set(st.rosterVersion)
        this.metrics.pendingApprovals.set([...st.pending.values()].filter((p) => p.state === 'waiting').length)
        sendMetrics(res, await exposition(this.metrics.registry))
      })
    addImageRoutes(this.router, () => ({ images: this.images!, broker: this.chunkBroker!, config: this.config, metrics: this.metrics, state: this._state, log: this.log }))
    addAdminRoutes(this.router, () => ({ state: this.state, images: this.images!, config: this.config }))
  }

  private refuseUnknownMac(mac: string): void {
    if (this.config.unknownMac === 'refuse' && !this.state.isKnownMac(mac)) {
      throw new HttpError(403, 'mac-refused', `MAC ${mac} is not known to this coordinator and unknown MACs are refused; register it with: shoal coordinator assign --mac ${mac} VERSION`)
    }
  }

  private async bootScript(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const macResult = Mac.safeParse(url.searchParams.get('mac') ?? undefined)
    if (!macResult.success) {
      this.metrics.bootScripts.inc({ outcome: 'bad-request' })
      return sendText(res, 400, renderRefusal(`bad or missing mac parameter; chain ${routes.bootScript}?mac=\${net0/mac}`, undefined))
    }
    const mac = macResult.data
    const state = this.state
    const remote = req.socket.remoteAddress
    if (this.config.unknownMac === 'refuse' && !state.isKnownMac(mac)) {
      state.auditRefusal('unknown-mac', remote ?? '?', { mac, ...(remote ? { remote } : {}) })
      this.log.warn({ component: 'boot', mac, remote }, 'unknown MAC refused')
      this.metrics.bootScripts.inc({ outcome: 'refused' })
      return sendText(res, 403, renderRefusal(`MAC ${mac} is not registered with this coordinator (shoal coordinator assign --mac ${mac} VERSION)`, undefined))
    }
    const nodeId = state.macToNode.get(mac)
    let image: string
    let manifest
    try {
      image = state.assignedImage(nodeId, mac) ?? (await this.defaultImage())
      manifest = await this.images!.manifest(image)
    } catch (err) {
      const reason = (err as Error).message
      this.log.error({ component: 'boot', mac, err: reason }, 'cannot serve a boot script')
      this.metrics.bootScripts.inc({ outcome: 'unavailable' })
      return sendText(res, 503, renderRefusal(`no bootable image: ${reason}`, undefined))
    }
    const wait = this.tokenRate.take(remote ?? '?')
    if (wait > 0) {
      this.metrics.bootScripts.inc({ outcome: 'rate-limited' })
      return sendText(res, 429, renderRefusal(`too many boot scripts from ${remote}; retrying`, `${this.baseUrl(req)}${routes.bootScript}?mac=\${net0/mac}`, Math.min(60, Math.ceil(wait / 1000))))
    }
    let token: string
    try {
      token = (await this.issueToken(mac)).token
    } catch (err) {
      if (!(err instanceof HttpError)) throw err
      this.metrics.bootScripts.inc({ outcome: 'rate-limited' })
      return sendText(res, err.status, renderRefusal(err.message, `${this.baseUrl(req)}${routes.bootScript}?mac=\${net0/mac}`, 60))
    }
    const base = this.baseUrl(req)
    const script = renderBootScript({
      params: { coordinator: base, token, mac, bootstrap: this.bootstrapFor(req), image, cluster: state.clusterId, clusterKey: state.publicKey },
      kernel: manifest.kernel,
      initramfs: manifest.initramfs,
      // A domain label goes after the operator's kernelArgs: the last shoal.domain= wins (domain-param.ts).
      kernelArgs: [this.kernelArgs, layersParam(this.kernelArgs), this.bootPeers(nodeId, mac), nodeId && state.nodeLabels.get(nodeId)?.domain ? formatDomainParam(state.nodeLabels.get(nodeId)!.domain!) : ''].filter(Boolean).join(' '),
    })
    await state.audit({ kind: 'boot-script', mac, node: nodeId, remote, image })
    this.log.info({ component: 'boot', mac, node: nodeId, image }, 'boot script served')
    this.metrics.bootScripts.inc({ outcome: 'served' })
    return sendText(res, 200, script)
  }

  private async issueToken(mac: string): Promise<{ token: string; expiresAt: number }> {
    try {
      return await this.state.issueToken(mac)
    } catch (err) {
      if (err instanceof ShoalError && err.code === 'too-many-tokens') throw new HttpError(429, err.code, err.message)
      throw err
    }
  }

  /** The node is alive in the coordinator's mesh view and did not announce a reboot. */
  private holderAlive(id: string): boolean {
    const m = this._waves?.members.view().find((v) => v.id === id)
    return m?.status === 'alive' && m.record?.phase !== 'rebooting'
  }

  /** shoal.peers= for a booting worker: agents its boot agent can ask for its old id. */
  private bootPeers(nodeId: string | undefined, mac: string): string {
    const view = this._waves?.peer?.runtime.view() ?? []
    return peersParam(view.map((m) => ({ id: m.id, alive: m.status === 'alive', ...(m.record?.api ? { api: m.record.api } : {}) })), { ...(nodeId ? { id: nodeId } : {}), mac }, this.kernelArgs)
  }

  private fail(res: ServerResponse, err: unknown): void {
    const e = httpErrorOf(err)
    if (e) return this.sendError(res, e.status, e.code, e.message, e.issues)
    this.log.error({ component: 'coordinator', err: (err as Error)?.stack ?? String(err) }, 'request failed')
    this.sendError(res, 500, 'internal', 'internal error; see the coordinator log')
  }

  private sendError(res: ServerResponse, status: number, code: ErrorCode | ForeignCode, message: string, issues?: { path: string; message: string }[]): void {
    this.metrics.httpErrors.inc({ status: String(status), code })
    sendError(res, status, code, message, issues)
  }

  // --- addresses -----------------------------------------------------------------------

  /**
   * The coordinator's base URL as this client reached it: the configured publicUrl, else
   * the local address and port its TCP connection arrived on. Never the Host header: the
   * client writes that, and it would land in the kernel URL of a boot script.
   */
  private baseUrl(req: IncomingMessage): string {
    if (this.config.publicUrl) return this.config.publicUrl
    const local = req.socket.localAddress
    const port = req.socket.localPort
    if (!local || !port) return this.url
    const addr = local.startsWith('::ffff:') ? local.slice(7) : local
    return `http://${addr.includes(':') ? `[${addr}]` : addr}:${port}`
  }

  private bootstrapFor(req: IncomingMessage): string[] {
    if (this.config.bootstrapAdvertise?.length) return this.config.bootstrapAdvertise
    const host = new URL(this.baseUrl(req)).hostname
    const port = this.dht ? Number(this.dht.address.split(':').pop()) : this.config.dhtPort > 0 ? this.config.dhtPort : 49737
    return [`${host}:${port}`]
  }

  async defaultImage(): Promise<string> {
    if (this.config.defaultImage) return this.config.defaultImage
    const versions = await this.images!.versions()
    const last = versions[versions.length - 1]
    if (!last) throw new ShoalError('image', `no image versions in ${this.config.imagesDir}; build one with \`npm run layers\``)
    return last
  }
}
