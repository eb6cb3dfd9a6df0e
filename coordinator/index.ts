/** The coordinator: boot scripts, image server, enrollment, roster, DHT bootstrap node. */
export * from '../agent/protocol/enroll/index.js'
export { Coordinator, type CoordinatorDeps } from './coordinator.js'
export { CoordinatorConfig, defaultCoordinatorConfig, mergeConfig } from './coordinator-config.js'
export * from './admin-api.js'
