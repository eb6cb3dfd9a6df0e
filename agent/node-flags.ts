/**
 * Node flags of every agent process. A 1 MB young generation: an agent allocates little,
 * and this keeps ~8 MB of RSS per agent. One V8 worker thread instead of one per core:
 * ~4 MB less RSS per agent (each thread has its own stack and malloc arena), and an agent
 * has nothing to do in parallel. No optimising compiler (--no-opt): an agent handles a few
 * messages a second, and TurboFan compiling the same hot paths in every fresh process cost
 * more than it saved — 8 agents, 5 s from release: ~15% less CPU and ~6.5 MB less RSS each.
 * The worker's service runs with them (layers/specs/worker.ts), and its V8 code cache is made
 * with them: V8 accepts a cache only under the flags it was made with.
 */
export const AGENT_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=1', '--v8-pool-size=1', '--no-opt'])
