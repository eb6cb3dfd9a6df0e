/**
 * The scenario registry: `npm run sim -- --scenario NAME`. To add one, write
 * sim/scenarios/<name>.ts exporting a `Scenario` (see scenario.ts) and list it here.
 */
import { crash } from './crash.js'
import { join } from './join.js'
import { partition } from './partition.js'
import { soak } from './soak.js'
import { wave } from './wave.js'
import type { Scenario } from './scenario.js'

export const scenarios: ReadonlyMap<string, Scenario> = new Map([join, crash, partition, soak, wave].map((s) => [s.name, s]))

export type { IntRange, OptionSpec, OptionValue, Scenario, ScenarioContext, ScenarioResult } from './scenario.js'
