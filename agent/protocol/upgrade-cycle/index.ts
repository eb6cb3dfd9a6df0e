/** The upgrade cycle (pre-gate to release) as a pure step machine. See cycle-step.ts and docs/waves-agent.md. */
export { stepCycle, cycleMark, type CycleStepResult } from './cycle-step.js'
export { defaultCyclePolicy, type CyclePolicy } from './cycle-policy.js'
export { idleCycle, type CycleAction, type CycleEffect, type CycleInput, type CycleOutcome, type CycleRun, type CycleState, type CycleStepName, type DrainResult, type GateVerdict } from './cycle-types.js'
