/**
 * Debian's lldpd on a LAN of network namespaces: a "switch" namespace whose lldpd speaks
 * as a top-of-rack switch (a system name, ports identified by interface name, as switches
 * send them) and worker namespaces cabled to it by veth pairs, each with its own lldpd
 * (receiving, as a worker's would). `neighbors(worker)` is what the agent reads there:
 * `lldpcli -f json show neighbors`. Everything stays inside the namespaces created here;
 * `close()` stops every daemon started here (by pid) and deletes the namespaces.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { stopChild } from '../../agent/stop-child.js'

const run = promisify(execFile)

/** A cable: an interface on the switch and one on a worker (each at most 15 characters). */
export interface LldpCable {
  worker: string
  workerIf: string
  switchIf: string
}

export interface LldpLanOptions {
  /** The switch's system name (its lldpd's `configure system hostname`). */
  switchName: string
  cables: LldpCable[]
  /** Workers with interfaces whose far end runs no lldpd (nothing to hear), by worker: interface names. */
  silent?: Record<string, string[]>
}

export class LldpLan {
  private readonly daemons: ChildProcess[] = []
  private readonly namespaces: string[] = []

  private constructor(
    private readonly dir: string,
    private readonly tag: string,
  ) {}

  /** Builds the namespaces and cables, starts the switch's and each worker's lldpd. */
  static async start(o: LldpLanOptions): Promise<LldpLan> {
    const tag = `lldp${process.pid.toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`
    const dir = await mkdtemp(join(tmpdir(), 'shoal-lldp-'))
    // lldpd drops privileges to _lldpd, which must reach its control socket here.
    await chmod(dir, 0o755)
    const lan = new LldpLan(dir, tag)
    try {
      const sw = lan.ns('sw')
      const workers = [...new Set([...o.cables.map((c) => c.worker), ...Object.keys(o.silent ?? {})])]
      for (const n of [sw, ...workers.map((w) => lan.ns(w))]) {
        await run('ip', ['netns', 'add', n])
        lan.namespaces.push(n)
        await run('ip', ['-n', n, 'link', 'set', 'lo', 'up'])
      }
      const switchIfs: string[] = []
      for (const c of o.cables) {
        await run('ip', ['link', 'add', c.switchIf, 'netns', sw, 'type', 'veth', 'peer', 'name', c.workerIf, 'netns', lan.ns(c.worker)])
        switchIfs.push(c.switchIf)
      }
      let spare = 0
      for (const [w, ifs] of Object.entries(o.silent ?? {})) {
        // The far end sits in the switch namespace but outside its lldpd's interfaces.
        for (const i of ifs) await run('ip', ['link', 'add', `spare${spare++}`, 'netns', sw, 'type', 'veth', 'peer', 'name', i, 'netns', lan.ns(w)])
      }
      for (const n of lan.namespaces) {
        const { stdout } = await run('ip', ['-n', n, '-o', 'link', 'show'])
        for (const m of stdout.matchAll(/^\d+: ([^:@]+)[@:]/gm)) if (m[1] !== 'lo') await run('ip', ['-n', n, 'link', 'set', m[1]!, 'up'])
      }
      // The switch: its name, port ids by interface name, a frame every second (the default 30 s would slow the test).
      const conf = join(dir, 'switch.conf')
      await writeFile(conf, [`configure system hostname ${o.switchName}`, 'configure lldp portidsubtype ifname', 'configure lldp tx-interval 1', ''].join('\n'))
      lan.daemon(sw, ['-I', switchIfs.join(','), '-S', 'shoal test switch (lldpd in a network namespace)', '-O', conf])
      for (const w of workers) lan.daemon(lan.ns(w), ['-r'], w)
      return lan
    } catch (err) {
      await lan.close()
      throw err
    }
  }

  private ns(name: string): string {
    return `${this.tag}-${name}`
  }

  private socket(who: string): string {
    return join(this.dir, `${who}.sock`)
  }

  private daemon(ns: string, args: string[], who = 'sw'): void {
    const p = spawn('timeout', ['300', 'ip', 'netns', 'exec', ns, 'lldpd', '-d', '-u', this.socket(who), ...args], { stdio: 'ignore' })
    this.daemons.push(p)
  }

  /** `lldpcli -f json show neighbors` inside `worker`'s namespace, as the agent runs it there. */
  async neighbors(worker: string): Promise<string> {
    const { stdout } = await run('ip', ['netns', 'exec', this.ns(worker), 'lldpcli', '-u', this.socket(worker), '-f', 'json', 'show', 'neighbors'], { timeout: 10_000 })
    return stdout
  }

  /** The neighbours `worker` has heard once `ready(json)` holds, polled until `deadlineMs` (lldpd answers within its 1 s transmit interval). */
  async neighborsWhen(worker: string, ready: (json: string) => boolean, deadlineMs: number): Promise<string> {
    const end = Date.now() + deadlineMs
    let last = ''
    for (;;) {
      last = await this.neighbors(worker).catch((err: Error) => `(lldpcli failed: ${err.message})`)
      if (ready(last)) return last
      if (Date.now() > end) throw new Error(`lldpd in ${worker} did not hear its switch within ${deadlineMs} ms; lldpcli said:\n${last}`)
      await new Promise((r) => setTimeout(r, 250)) // poll pace for an external daemon, bounded by the deadline
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.daemons.map((p) => stopChild(p, 5000)))
    for (const n of this.namespaces) await run('ip', ['netns', 'del', n]).catch(() => undefined)
    await rm(this.dir, { recursive: true, force: true })
  }
}
