/** The reboot-lease vote: pure, driven like the mesh node. See docs/vote.md. */
export * from './vote-messages.js'
export * from './vote-codec.js'
export * from './vote-config.js'
export * from './quorum.js'
export * from './cluster-view.js'
export * from './cold-start.js'
export * from './ranking.js'
export * from './vote-node.js'
