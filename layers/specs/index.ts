import type { LayerSpec } from '../layer-spec.js'
import type { Role } from '../manifest.js'
import { base } from './base.js'
import { controller } from './controller.js'
import { node } from './node.js'
import { worker } from './worker.js'

export { base, controller, node, worker }
export { AGENT_CONFIG_PATH } from './worker.js'

export const allLayers: readonly LayerSpec[] = [base, node, worker, controller]

/** Which layers stack into each role's root, lowest first. */
export const defaultStacks: Readonly<Record<Role, readonly string[]>> = {
  worker: ['base', 'node', 'worker'],
  controller: ['base', 'node', 'controller'],
}
