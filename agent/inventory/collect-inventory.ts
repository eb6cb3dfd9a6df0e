/**
 * Collects this machine's Inventory: systeminformation in a child process (it blocks its
 * event loop and spawns many processes: never on the agent's hot path) merged with what
 * /sys says directly (disk serials and WWNs, permanent MACs — the only source in the
 * initramfs). Bounded by one deadline: a call that fails or hangs leaves its section
 * unknown with a warning; the child's whole process group is killed at the deadline.
 * Never throws for the machine's sake; only a bad option throws.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { readSysfsHardware, type SysfsHardware } from '../fingerprint/read-sysfs.js'
import { emptyInventory, Inventory } from './inventory.js'
import { mergeSystemInformation, type SiAnswers } from './system-information-mapping.js'
import { fromSysfs } from './inventory-from-sysfs.js'

export interface CollectInventoryOptions {
  /** A tree laid out like /sys. Default /sys. */
  sysfsRoot?: string
  procfsRoot?: string
  /** Run systeminformation at all (false in the initramfs or for a fake /sys tree). Default true. */
  systemInformation?: boolean
  /** Deadline for the whole collection; the slow calls take ~1 s on 2 cores. Default 10000. */
  timeoutMs?: number
  /** Module to load instead of systeminformation (tests: one that hangs or fails). */
  siModule?: string
  /** Milliseconds since the epoch (injected in tests). Default Date.now. */
  now?: () => number
}

const CHILD = fileURLToPath(new URL('./si-child.mjs', import.meta.url))
const SI_FNS = ['osInfo', 'system', 'baseboard', 'chassis', 'bios', 'cpu', 'mem', 'memLayout', 'diskLayout', 'networkInterfaces', 'graphics'] as const
export type SiFn = (typeof SI_FNS)[number]

export async function collectInventory(opts: CollectInventoryOptions = {}): Promise<Inventory> {
  const now = opts.now ?? Date.now
  const timeoutMs = opts.timeoutMs ?? 10_000
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${timeoutMs}`)
  const started = now()
  const inv = emptyInventory(started)
  const t0 = performance.now()

  const [hw, si] = await Promise.all([
    readSysfsHardware({ sysfsRoot: opts.sysfsRoot, procfsRoot: opts.procfsRoot, sourceTimeoutMs: timeoutMs }),
    opts.systemInformation === false ? Promise.resolve(undefined) : runSystemInformation(timeoutMs, opts.siModule),
  ])
  fromSysfs(inv, hw)
  inv.warnings.push(...hw.warnings)
  if (si) {
    mergeSystemInformation(inv, si.answers)
    inv.warnings.push(...si.warnings)
  }
  // Unknown = nothing known. Lists (disks, NICs, GPUs) are unknown only when no source
  // could look: an empty list that a source vouched for means "none".
  const empty = (o: object) => Object.keys(o).length === 0
  if (inv.os === undefined) inv.unknown.push('os')
  if (empty(inv.system)) inv.unknown.push('system')
  if (empty(inv.board)) inv.unknown.push('board')
  if (empty(inv.chassis)) inv.unknown.push('chassis')
  if (empty(inv.bios)) inv.unknown.push('bios')
  if (inv.cpu.model === undefined) inv.unknown.push('cpu')
  if (inv.memory.totalBytes === undefined) inv.unknown.push('memory')
  if (inv.memory.modules.length === 0) inv.unknown.push('memory.modules')
  if (inv.disks.length === 0 && hw.unknown.includes('disks') && !si?.answers.diskLayout) inv.unknown.push('disks')
  if (inv.nics.length === 0 && hw.unknown.includes('nics')) inv.unknown.push('nics')
  if (!si?.answers.graphics) inv.unknown.push('gpus')
  inv.unknown = [...new Set(inv.unknown)].slice(0, 64)
  inv.warnings = [...new Set(inv.warnings.map((w) => w.slice(0, 512)))].slice(0, 64)
  inv.durationMs = Math.round((performance.now() - t0) * 10) / 10
  const parsed = Inventory.safeParse(inv)
  if (parsed.success) return parsed.data
  // A bug guard: whatever slipped past the mapping must not crash the caller.
  const issue = parsed.error.issues[0]!
  const fallback = emptyInventory(started)
  fallback.unknown.push('os', 'system', 'board', 'chassis', 'bios', 'cpu', 'memory', 'memory.modules', 'disks', 'nics', 'gpus')
  fallback.warnings.push(`the collected inventory did not fit the schema (at ${issue.path.join('.')}: ${issue.message}); reported as unknown`)
  return fallback
}

/** Runs the child; resolves (never rejects) with whatever answered before the deadline. */
function runSystemInformation(timeoutMs: number, siModule?: string): Promise<{ answers: SiAnswers; warnings: string[] }> {
  return new Promise((resolve) => {
    const answers: SiAnswers = {}
    const warnings: string[] = []
    const pending = new Set<string>(SI_FNS)
    let buffered = ''
    let stderr = ''
    let settled = false
    const child = spawn(process.execPath, [CHILD], {
      detached: true, // its own process group, so the deadline can kill what it spawned too
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SHOAL_SI_FNS: SI_FNS.join(','), ...(siModule ? { SHOAL_SI_MODULE: siModule } : {}) },
    })
    const finish = () => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      for (const fn of pending) warnings.push(`systeminformation ${fn}() gave no answer${stderr ? `: ${stderr.trim().split('\n').pop()}` : ''}`)
      resolve({ answers, warnings })
    }
    const timer = setTimeout(() => {
      for (const fn of pending) warnings.push(`systeminformation ${fn}() did not answer within ${timeoutMs} ms; its section is unknown`)
      pending.clear()
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        child.kill('SIGKILL')
      }
      finish()
    }, timeoutMs)
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        let msg: { fn?: unknown; ok?: unknown; data?: unknown; error?: unknown }
        try {
          msg = JSON.parse(line)
        } catch {
          warnings.push('systeminformation child printed a line that is not JSON; ignored')
          continue
        }
        if (typeof msg.fn !== 'string' || !pending.has(msg.fn)) continue
        pending.delete(msg.fn)
        if (msg.ok === true) (answers as Record<string, unknown>)[msg.fn] = msg.data
        else warnings.push(`systeminformation ${msg.fn}() failed: ${String(msg.error)}`)
      }
    })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (c: string) => {
      if (stderr.length < 4096) stderr += c
    })
    child.on('error', (err) => {
      warnings.push(`could not start the systeminformation child: ${err.message}`)
      finish()
    })
    child.on('close', () => finish())
  })
}
