/**
 * Stops a child process: `signal` (SIGTERM by default), then SIGKILL if it has not exited
 * within `graceMs`. Resolves once it has exited; at once when it already had.
 */
import type { ChildProcess } from 'node:child_process'

export function stopChild(c: ChildProcess, graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const t = setTimeout(() => c.kill('SIGKILL'), graceMs)
    c.once('exit', () => {
      clearTimeout(t)
      resolve()
    })
    c.kill(signal)
  })
}
