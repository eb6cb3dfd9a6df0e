/**
 * Entry of the worker's agent bundle (/usr/lib/shoal/shoal-agent.bundle.cjs): the code-cache
 * loader (layers/code-cache.ts) runs it and calls main. Same agent as agent/bin.ts.
 */
export { runAgentProcess as main } from '../../agent/main.js'
