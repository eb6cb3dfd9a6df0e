/** Upgrade waves on the coordinator: API contract, service, routes. See docs/waves.md. */
export * from './wave-api.js'
export { WaveService, type WaveServiceDeps } from './wave-service.js'
export { addWaveRoutes } from './wave-routes.js'
export { CoordinatorView, emptyMembers, type MemberSource } from './coordinator-view.js'
export { LinkMeshPort, noMesh, type MeshLink } from './link-mesh-port.js'
export { levelVoteStore, waveVoteKey } from './level-vote-store.js'
export { nodeWaveState } from './wave-progress.js'
export { startWaves, type Waves, type WavesOptions } from './start-waves.js'
