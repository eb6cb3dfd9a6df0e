/** agent/upgrade: the agent's side of upgrade waves. See docs/waves-agent.md. */
export { VoteRuntime, loadPersistedVote, VOTE_STATE_KEY, type MeshPort, type VoteRuntimeEvents, type VoteRuntimeOptions } from './vote-runtime.js'
export { MeshClusterView, type MemberSource } from './mesh-cluster-view.js'
export { UpgradeExecutor, defaultExecutorPolicy, type UpgradeSteps, type GateVerdict, type ExecutorPolicy, type ExecutorDeps, type ExecutorOutcome } from './executor.js'
export { RealSteps, SystemRebooter, ProcessExitRebooter, REBOOT_EXIT_CODE, assignRequest, assignSigningText, verdictOf, type RealStepsOptions } from './real-steps.js'
export { UpgradeAgent, type UpgradeAgentOptions, type UpgradeMeshPort, type UpgradeStatus } from './upgrade-agent.js'
export { GateRounds, type GateStatus, type GateRoundsOptions, type UpgradeState } from './gate-rounds.js'
export { RackPlacement, type RackPlacementOptions } from './rack-placement.js'
export { UpgradeConfig, UpgradeConfigInput, upgradeDefaults } from '../protocol/upgrade-config.js'
