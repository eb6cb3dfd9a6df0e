/**
 * Wires waves into a coordinator: its mesh/vote identity (seed in level), the roster entry
 * for it, the mesh peer (when the coordinator runs a DHT bootstrap node), the vote glue
 * and the WaveService. coordinator.ts calls `startWaves` at start and delegates the
 * /v1/waves* and /v1/assign routes to `handle`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Registry } from 'prom-client'
import type { MeshParam } from '../../agent/protocol/kernel-params/index.js'
import type { NodeIdentity } from '../../agent/mesh/identity.js'
import type { MeshEvent } from '../../agent/protocol/mesh-types.js'
import { silentLogger, type Clock, type Logger } from '../../agent/protocol/ports.js'
import type { VoteConfig } from '../../agent/protocol/vote/vote-config.js'
import type { ClusterState } from '../cluster-state.js'
import type { ImageStore } from '../image-store.js'
import { COORDINATOR_MESH_ID, coordinatorIdentity, CoordinatorMeshPeer } from '../mesh-peer.js'
import type { StateStore } from '../state-store.js'
import { emptyMembers, type MemberSource } from './coordinator-view.js'
import { LinkMeshPort, noMesh, type MeshLink } from './link-mesh-port.js'
import { addWaveRoutes } from './wave-routes.js'
import type { Exchange, Router } from '../../agent/http/index.js'
import { WaveService } from './wave-service.js'
import { registerWaveMetrics } from './wave-metrics.js'

export interface WavesOptions {
  /** Run the coordinator's mesh peer (default: whenever a bootstrap list is given). */
  mesh?: boolean
  /** Tests without hyperswarm: where members come from (default: the mesh peer's view). */
  members?: MemberSource
  /** Tests without hyperswarm: where vote and control messages go (default: the mesh peer). */
  link?: MeshLink
  tickMs?: number
  controlEveryMs?: number
  vote?: Partial<VoteConfig>
}

export interface WavesContext {
  state: ClusterState
  store: StateStore
  images: ImageStore
  clock: Clock
  log?: Logger
  random: (n: number) => Uint8Array
  /** The coordinator's DHT bootstrap address(es), when it runs one. */
  bootstrap?: string[]
  meshHost?: string
  /** Mesh timing of the coordinator's peer (config meshTiming; the workers get the same). */
  meshTiming?: MeshParam
  maxBodyBytes: number
  /** The coordinator's metrics registry: the waves' gauges join it (wave-metrics.ts). */
  registry?: Registry
}

export interface Waves {
  readonly service: WaveService
  readonly identity: NodeIdentity
  readonly peer: CoordinatorMeshPeer | undefined
  /** Where the coordinator sees members (its mesh peer, or the test's source). */
  readonly members: MemberSource
  /** Adds /v1/assign and /v1/waves* to the coordinator's router. */
  addRoutes(router: Router<Exchange>): void
  close(): Promise<void>
}

/** Re-announce the wave to a newly seen member at most this often: a booting cluster shows many at once. */
const REANNOUNCE_MS = 2000

export async function startWaves(ctx: WavesContext, opts: WavesOptions = {}): Promise<Waves> {
  const log = ctx.log ?? silentLogger
  const identity = await coordinatorIdentity(ctx.store, ctx.random)
  const peer =
    (opts.mesh ?? true) && ctx.bootstrap?.length
      ? new CoordinatorMeshPeer({ identity, state: ctx.state, bootstrap: ctx.bootstrap, ...(ctx.meshHost ? { host: ctx.meshHost } : {}), ...(ctx.meshTiming ? { timing: ctx.meshTiming } : {}), clock: ctx.clock, log })
      : undefined
  ctx.state.setRosterExtras([{ id: COORDINATOR_MESH_ID, key: identity.publicKey }])
  const mesh = peer && !opts.link ? peer.runtime : new LinkMeshPort(opts.link ?? noMesh)
  const members = opts.members ?? peer?.runtime ?? emptyMembers
  const service = await WaveService.open({
    state: ctx.state,
    store: ctx.store,
    images: ctx.images,
    identity,
    clock: ctx.clock,
    members,
    mesh,
    log,
    ...(opts.vote ? { vote: opts.vote } : {}),
    ...(opts.tickMs ? { tickMs: opts.tickMs } : {}),
    ...(opts.controlEveryMs ? { controlEveryMs: opts.controlEveryMs } : {}),
  })
  // Greet members that join or come back: a rebooted worker starts with an empty view and
  // learns the wave (its roster, its own leftover slot) only from an announce. Announces are
  // at most one per REANNOUNCE_MS; one arriving inside that window is sent at its end, not
  // dropped (a rack joining together, or the second node of a wave returning, must not be
  // missed: a returned holder that never hears of its wave never releases its slot).
  let lastAnnounce = -Infinity
  let pending: NodeJS.Timeout | undefined
  const announce = (): void => {
    pending = undefined
    lastAnnounce = ctx.clock.now()
    service.announce()
  }
  const onEvent = (e: MeshEvent): void => {
    // Vote messages reach the VoteRuntime directly; here only: greet members that (re)join.
    if (e.type === 'member' && e.status === 'alive' && e.previous !== 'alive') {
      const wait = lastAnnounce + REANNOUNCE_MS - ctx.clock.now()
      if (wait <= 0) announce()
      else pending ??= setTimeout(announce, wait)
    }
  }
  if (peer) {
    peer.runtime.on('event', onEvent)
    await peer.start()
  }
  if (ctx.registry) registerWaveMetrics(ctx.registry, service)
  service.start()
  let closing: Promise<void> | undefined
  return {
    service,
    identity,
    peer,
    members,
    addRoutes: (router) => addWaveRoutes(router, { waves: service, state: ctx.state, maxBodyBytes: ctx.maxBodyBytes }),
    close() {
      closing ??= (async () => {
        clearTimeout(pending)
        await service.close()
        if (peer) {
          peer.runtime.off('event', onEvent)
          await peer.close()
        }
      })()
      return closing
    },
  }
}
