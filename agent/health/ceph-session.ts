/**
 * CephSession: the same commands as CephCli, sent over one long-lived librados connection
 * instead of one `ceph` process per command. Each `ceph` run pays a Python start-up and a
 * cephx handshake (~0.3-0.5 s of CPU); a probe round every 5 s made that ~20 % of a core.
 * The session is a small Python helper using the `rados` module the ceph CLI itself uses
 * (python3-rados, part of ceph-common), speaking JSON lines on stdin/stdout.
 *
 * Same contract as CephCli.run: resolves with {code, stdout, stderr} where code is the
 * positive errno (0 ok, 16 EBUSY, 11 EAGAIN), rejects with 'ceph-timeout' after timeoutMs.
 * Commands it does not know are passed to the CLI. If the helper dies it is restarted on
 * the next call; if it cannot run at all (no python3 or no rados module), every call falls
 * back to the CLI, so the session is never worse than CephCli.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { ShoalError } from '../protocol/errors.js'
import { CephCli, type CephCliOptions, type CephRun } from './ceph-cli.js'

const helper = String.raw`
import json, sys, threading
import rados
conf, keyring, name, connect_s = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
kw = {}
if keyring: kw['conf'] = {'keyring': keyring}
if name: kw['name'] = name
lock = threading.Lock()
def out(o):
    with lock:
        sys.stdout.write(json.dumps(o) + '\n')
        sys.stdout.flush()
try:
    r = rados.Rados(conffile=conf or '', **kw)
    r.connect(timeout=connect_s)
except Exception as e:
    out({'fatal': str(e)})
    sys.exit(1)
def handle(req):
    try:
        fn = r.mgr_command if req['target'] == 'mgr' else r.mon_command
        ret, buf, outs = fn(json.dumps(req['cmd']), b'', timeout=req['timeoutS'])
        out({'id': req['id'], 'ret': ret, 'out': buf.decode('utf8', 'replace'), 'outs': outs})
    except Exception as e:
        out({'id': req['id'], 'ret': -5, 'out': '', 'outs': type(e).__name__ + ': ' + str(e)})
out({'ready': True})
for line in sys.stdin:
    threading.Thread(target=handle, args=(json.loads(line),), daemon=True).start()
`

interface Cmd {
  target: 'mon' | 'mgr'
  cmd: Record<string, unknown>
}

/** The CLI words of the commands shoal uses -> the JSON command librados sends. */
export function toCephCommand(args: readonly string[]): Cmd | undefined {
  const a = args.join(' ')
  const json = { format: 'json' }
  if (a === 'status') return { target: 'mon', cmd: { prefix: 'status', ...json } }
  if (a === 'health detail') return { target: 'mon', cmd: { prefix: 'health', detail: 'detail', ...json } }
  if (a === 'osd tree') return { target: 'mon', cmd: { prefix: 'osd tree', ...json } }
  if (a === 'osd dump') return { target: 'mon', cmd: { prefix: 'osd dump', ...json } }
  if (a === 'osd crush rule dump') return { target: 'mon', cmd: { prefix: 'osd crush rule dump', ...json } }
  if (a === 'osd stat') return { target: 'mon', cmd: { prefix: 'osd stat', ...json } }
  if (a === 'pg dump pgs_brief') return { target: 'mgr', cmd: { prefix: 'pg dump', dumpcontents: ['pgs_brief'], ...json } }
  if (args[0] === 'osd' && args[1] === 'ok-to-stop' && args.length > 2 && args.slice(2).every((x) => /^\d+$/.test(x)))
    return { target: 'mgr', cmd: { prefix: 'osd ok-to-stop', ids: args.slice(2), ...json } }
  if (args[0] === 'osd' && (args[1] === 'set-group' || args[1] === 'unset-group') && args.length === 4)
    return { target: 'mon', cmd: { prefix: `osd ${args[1]}`, flags: args[2], who: [args[3]], ...json } }
  return undefined
}

export interface CephSessionOptions extends CephCliOptions {
  /** A python3 that has the rados module (the ceph CLI's own interpreter). */
  python?: string
}

export class CephSession extends CephCli {
  private child?: ChildProcess
  private ready?: Promise<void>
  private nextId = 1
  private readonly pending = new Map<number, (r: { ret: number; out: string; outs: string }) => void>()
  private readonly python: string
  /** Set when the helper cannot run here: use the CLI from then on. */
  private unusable?: string

  constructor(readonly sessionOptions: CephSessionOptions = {}) {
    super(sessionOptions)
    this.python = sessionOptions.python ?? '/usr/bin/python3'
  }

  override async run(args: readonly string[], timeoutMs = this.timeoutMs): Promise<CephRun> {
    const c = toCephCommand(args)
    if (!c || this.unusable) return super.run(args, timeoutMs)
    const t0 = performance.now()
    const what = `ceph ${args.join(' ')}`
    const deadline = Date.now() + timeoutMs
    try {
      await this.withTimeout(this.start(), timeoutMs, what)
    } catch (err) {
      if (this.unusable) return super.run(args, Math.max(1, deadline - Date.now()))
      throw err
    }
    const id = this.nextId++
    const left = Math.max(1, deadline - Date.now())
    const answer = new Promise<{ ret: number; out: string; outs: string }>((resolve) => this.pending.set(id, resolve))
    this.child!.stdin!.write(JSON.stringify({ id, target: c.target, cmd: c.cmd, timeoutS: Math.max(1, Math.ceil(left / 1000)) }) + '\n')
    try {
      const r = await this.withTimeout(answer, left, what)
      const code = r.ret < 0 ? -r.ret : r.ret
      return { code, stdout: r.out, stderr: r.outs ? (code ? `Error: ${r.outs}` : r.outs) : '', ms: performance.now() - t0 }
    } finally {
      this.pending.delete(id)
    }
  }

  /** The helper's pid while it runs (benchmarks read its CPU from /proc). */
  get pid(): number | undefined {
    return this.child?.pid
  }

  /** Why the session fell back to the CLI, if it did. */
  get fallbackReason(): string | undefined {
    return this.unusable
  }

  /** Stops the helper; the next call starts a new one. Idempotent. */
  close(): void {
    this.child?.kill('SIGKILL')
    this.child = undefined
    this.ready = undefined
  }

  private start(): Promise<void> {
    if (this.ready) return this.ready
    const o = this.sessionOptions
    const connectS = String(o.connectTimeoutS ?? Math.max(1, Math.ceil(this.timeoutMs / 1000)))
    const child = spawn(this.python, ['-c', helper, o.conf ?? '', o.keyring ?? '', o.name ?? '', connectS], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.child = child
    // An idle session must not keep a CLI process alive; pending calls hold their own timers.
    child.unref()
    for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.()
    let buf = ''
    let stderr = ''
    let connected = false
    let fatal = false
    this.ready = new Promise<void>((resolve, reject) => {
      child.on('error', (err) => {
        this.unusable = `cannot start ${this.python}: ${err.message}`
        this.close()
        reject(new ShoalError('ceph-unavailable', `cannot start the Ceph session helper (${this.python}): ${err.message}; install ceph-common or use the ceph CLI transport`))
      })
      child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)))
      child.stdout!.on('data', (b: Buffer) => {
        buf += b.toString()
        let nl
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl)
          buf = buf.slice(nl + 1)
          let msg: { ready?: boolean; fatal?: string; id?: number; ret?: number; out?: string; outs?: string }
          try {
            msg = JSON.parse(line)
          } catch {
            continue // not ours (a library printing); ignore
          }
          if (msg.ready) {
            connected = true
            resolve()
          } else if (msg.fatal !== undefined) {
            fatal = true
            reject(new ShoalError('ceph-unavailable', `Ceph session could not connect: ${msg.fatal}`))
          } else if (typeof msg.id === 'number') this.pending.get(msg.id)?.({ ret: Number(msg.ret ?? -5), out: String(msg.out ?? ''), outs: String(msg.outs ?? '') })
        }
      })
      child.on('exit', (code) => {
        if (this.child === child) {
          this.child = undefined
          this.ready = undefined
        }
        const why = stderr.trim().split('\n').slice(-1)[0] || `exit ${code}`
        // Died before connecting without saying why (e.g. no rados module): this host cannot run it.
        if (!connected && !fatal) this.unusable = why
        reject(new ShoalError('ceph-unavailable', `Ceph session helper stopped: ${why}`))
        for (const [, resolve] of this.pending) resolve({ ret: -5, out: '', outs: `session helper stopped: ${why}` })
      })
    })
    this.ready.catch(() => this.close())
    return this.ready
  }

  private withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new ShoalError('ceph-timeout', `${what}: no answer within ${ms} ms. Is a mon reachable and a mgr active? Check \`ceph -s\` on the cluster; mgr commands hang while no mgr is active.`)),
        ms,
      )
      p.then(
        (v) => (clearTimeout(t), resolve(v)),
        (e) => (clearTimeout(t), reject(e)),
      )
    })
  }
}
