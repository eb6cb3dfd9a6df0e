/**
 * One sweep worker thread (wave-sweep.ts): runs the seeds it is handed, one task at a
 * time, and posts each task's outcomes back.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { caseConfig, runSeed, type SweepCase } from './wave-sweep.js'

const cases = (workerData as { cases: SweepCase[] }).cases
const cfgs = cases.map(caseConfig)
const port = parentPort!
port.on('message', (t: { ci: number; from: number; to: number }) => {
  const outcomes = []
  for (let s = t.from; s <= t.to; s++) outcomes.push(runSeed(cfgs[t.ci]!, s))
  port.postMessage({ ci: t.ci, outcomes, done: true })
})
port.postMessage({ ready: true })
