/**
 * CephCli: runs the `ceph` command-line tool with `--format json` and a hard timeout.
 *
 * Why a hard timeout of our own: mgr commands (`osd ok-to-stop`, `status` PG figures) hang
 * forever without an active mgr, and `--connect-timeout` only covers reaching a mon. On
 * timeout the whole process group is SIGKILLed and the call fails with code 'ceph-timeout'.
 *
 * Exit codes: 0 ok; 11 (EAGAIN) "cannot tell yet, retry" -> ShoalError('ceph-retry');
 * 16 (EBUSY) is returned, not thrown, because ok-to-stop answers "not ok" that way with its
 * JSON still on stdout; any other code -> ShoalError('ceph-failed') carrying stderr.
 */
import { spawn } from 'node:child_process'
import type { z } from 'zod'
import { ShoalError } from '../protocol/errors.js'
import { parseJsonWith } from './parse-output.js'

export interface CephCliOptions {
  /** The ceph binary; 'ceph' from PATH unless set (tests may point at a stand-in script). */
  bin?: string
  /** ceph.conf (-c). Unset: ceph's own default (/etc/ceph/ceph.conf or $CEPH_CONF). */
  conf?: string
  /** Keyring file (-k). */
  keyring?: string
  /** Client name (-n), e.g. client.admin. */
  name?: string
  /** Kill any single ceph invocation after this long: 10 s is ~30x a healthy answer on loopback. */
  timeoutMs?: number
  /** Passed as --connect-timeout (seconds), so a cluster with no mon fails fast rather than at our kill. */
  connectTimeoutS?: number
}

export interface CephRun {
  code: number
  stdout: string
  stderr: string
  /** Wall time of the invocation, for benchmarks and logs. */
  ms: number
}

const EAGAIN = 11
export const EBUSY = 16
/** Output beyond this is not a ceph answer we can use; stop buffering (osd dump of 1000 OSDs is ~3 MB). */
const maxOutputBytes = 32 * 1024 * 1024

export class CephCli {
  readonly bin: string
  readonly timeoutMs: number
  private readonly base: string[]

  constructor(readonly options: CephCliOptions = {}) {
    this.bin = options.bin ?? 'ceph'
    this.timeoutMs = options.timeoutMs ?? 10_000
    if (!(this.timeoutMs > 0)) throw new ShoalError('config', `ceph timeoutMs must be positive, not ${options.timeoutMs}`)
    const connect = options.connectTimeoutS ?? Math.max(1, Math.ceil(this.timeoutMs / 1000))
    this.base = ['--connect-timeout', String(connect)]
    if (options.conf) this.base.push('-c', options.conf)
    if (options.keyring) this.base.push('-k', options.keyring)
    if (options.name) this.base.push('-n', options.name)
  }

  /** Runs `ceph ARGS --format json`. Resolves with any exit code; rejects only on timeout or spawn failure. */
  run(args: readonly string[], timeoutMs = this.timeoutMs): Promise<CephRun> {
    const argv = [...this.base, ...args, '--format', 'json']
    const what = `ceph ${args.join(' ')}`
    const t0 = performance.now()
    return new Promise((resolve, reject) => {
      let child
      try {
        child = spawn(this.bin, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      } catch (err) {
        reject(new ShoalError('ceph-unavailable', `${what}: cannot start ${this.bin}: ${(err as Error).message}`, { cause: err }))
        return
      }
      const out: Buffer[] = []
      const errb: Buffer[] = []
      let size = 0
      let done = false
      const finish = (fn: () => void) => {
        if (done) return
        done = true
        clearTimeout(timer)
        fn()
      }
      const killGroup = () => {
        try {
          process.kill(-child.pid!, 'SIGKILL')
        } catch {
          child.kill('SIGKILL')
        }
      }
      const timer = setTimeout(() => {
        killGroup()
        finish(() =>
          reject(
            new ShoalError(
              'ceph-timeout',
              `${what}: no answer within ${timeoutMs} ms (killed). Is a mon reachable and a mgr active? ` +
                'Check `ceph -s` on the cluster; mgr commands hang while no mgr is active.',
            ),
          ),
        )
      }, timeoutMs)
      child.stdout.on('data', (b: Buffer) => {
        size += b.length
        if (size > maxOutputBytes) {
          killGroup()
          finish(() => reject(new ShoalError('bad-output', `${what}: more than ${maxOutputBytes} bytes of output; refusing it`)))
        } else out.push(b)
      })
      child.stderr.on('data', (b: Buffer) => {
        if (errb.length < 256) errb.push(b)
      })
      child.on('error', (err: NodeJS.ErrnoException) => {
        finish(() =>
          reject(
            new ShoalError(
              'ceph-unavailable',
              err.code === 'ENOENT'
                ? `${what}: the ceph CLI (${this.bin}) is not installed; install ceph-common or pass --skip ceph`
                : `${what}: ${err.message}`,
              { cause: err },
            ),
          ),
        )
      })
      child.on('close', (code, signal) => {
        finish(() =>
          resolve({
            code: code ?? (signal ? 128 : 1),
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(errb).toString('utf8'),
            ms: performance.now() - t0,
          }),
        )
      })
    })
  }

  /** Runs a read command that must exit 0 and parses its JSON with `schema`. */
  async json<S extends z.ZodType>(args: readonly string[], schema: S): Promise<z.infer<S>> {
    const r = await this.run(args)
    this.check(args, r)
    return parseJsonWith(schema, r.stdout, `ceph ${args.join(' ')}`)
  }

  /** Runs a command whose output we do not need (set-group, unset-group); exit 0 required. */
  async exec(args: readonly string[]): Promise<void> {
    this.check(args, await this.run(args))
  }

  /** Throws for any exit code other than 0 (and 16 when `allowBusy`: ok-to-stop's "not ok"). */
  check(args: readonly string[], r: CephRun, allowBusy = false): void {
    if (r.code === 0 || (allowBusy && r.code === EBUSY)) return
    const what = `ceph ${args.join(' ')}`
    const why = r.stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300) || '(no message)'
    if (r.code === EAGAIN)
      throw new ShoalError('ceph-retry', `${what}: Ceph cannot tell yet (EAGAIN: ${why}); retry in a few seconds`)
    throw new ShoalError('ceph-failed', `${what}: exit ${r.code}: ${why}`)
  }
}
