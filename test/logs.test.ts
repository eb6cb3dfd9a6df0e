/**
 * Logs are valid JSON lines a collector can ingest: every line parses and no object in it
 * repeats a key (the agent's "agent ready" line used to carry `pid` twice, once from pino's
 * base fields); the coordinator takes --log-level as the agent does.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalCluster } from '../sim/demo/local-cluster.js'

/** Keys repeated inside any one JSON object of `text` (JSON.parse keeps the last silently). */
export function duplicateKeys(text: string): string[] {
  const dups: string[] = []
  const stack: Set<string>[] = []
  let i = 0
  const readString = () => {
    let out = ''
    i++ // opening quote
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') {
        out += text[i]! + text[i + 1]!
        i += 2
      } else out += text[i++]
    }
    i++ // closing quote
    return out
  }
  while (i < text.length) {
    const c = text[i]!
    if (c === '{') {
      stack.push(new Set())
      i++
    } else if (c === '}') {
      stack.pop()
      i++
    } else if (c === '"') {
      const s = readString()
      let j = i
      while (text[j] === ' ') j++
      if (text[j] === ':' && stack.length) {
        const keys = stack[stack.length - 1]!
        if (keys.has(s)) dups.push(s)
        keys.add(s)
      }
    } else i++
  }
  return dups
}

it('the duplicate-key check finds what JSON.parse hides', () => {
  expect(duplicateKeys('{"a":1,"b":{"a":2},"c":"x\\"a\\":"}')).toEqual([])
  expect(duplicateKeys('{"pid":1,"msg":"m","pid":1}')).toEqual(['pid'])
})

describe('agent log lines', () => {
  it('"agent ready" and the rest are JSON objects without duplicate keys', async () => {
    const lines: string[] = []
    // The real agent process (agent/bin.ts, its own pino logger) started by the one multi-process harness.
    const c = await LocalCluster.create({ nodes: 1, bootstrapInProcess: true, cluster: `logs-${randomBytes(3).toString('hex')}`, onLine: (_node, line) => lines.push(line) })
    let pid: number | undefined
    try {
      const a = await c.start(0)
      pid = a.proc?.pid
    } finally {
      await c.stop()
    }
    const parsed = lines.map((l) => {
      expect(() => JSON.parse(l), l).not.toThrow()
      return JSON.parse(l) as Record<string, unknown>
    })
    const ready = parsed.find((j) => j.msg === 'agent ready')
    expect(ready).toMatchObject({ pid, node: c.agents[0]!.id, component: 'agent', startCpuMs: expect.any(Number) })
    expect(ready!.startCpuMs).toBeGreaterThan(0) // the process's CPU to ready (docs/boot.md, "The agent's start")
    for (const l of lines) expect(duplicateKeys(l), l).toEqual([])
  }, 90_000)
})

describe('coordinator --log-level', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-logs-coord-'))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  /** Runs `shoal coordinator` with `flags` until it has started; its stdout lines (pino). */
  async function serve(flags: string[], env: Record<string, string> = {}): Promise<string[]> {
    const child = spawn(process.execPath, ['bin/shoal.js', 'coordinator', '--data-dir', join(dir, 'data'), '--images-dir', join(dir, 'images'), '--http-port', '0', '--dht-port=-1', ...flags], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const lines: string[] = []
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l))
    const exited = new Promise((r) => child.once('exit', r))
    const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000)
    const stderr: string[] = []
    // The banner on stderr says it is up.
    await Promise.race([
      exited,
      new Promise<void>((resolve) => {
        createInterface({ input: child.stderr! }).on('line', (l) => {
          stderr.push(l)
          if (l.startsWith('coordinator of cluster')) resolve()
        })
      }),
    ])
    child.kill('SIGTERM')
    await exited
    clearTimeout(deadline)
    if (!stderr.some((l) => l.startsWith('coordinator of cluster'))) throw new Error(`the coordinator did not start: ${stderr.join(' | ')}`)
    return lines
  }

  it('--log-level info logs the start; warn hides it; a bad level is one usage line (exit 2); flag beats env', async () => {
    const info = await serve(['--log-level', 'info'])
    const started = info.map((l) => JSON.parse(l)).find((j) => j.msg === 'coordinator started')
    expect(started).toMatchObject({ level: 30, component: 'coordinator' })
    for (const l of info) expect(duplicateKeys(l), l).toEqual([])
    expect((await serve(['--log-level', 'warn'])).map((l) => JSON.parse(l).msg)).not.toContain('coordinator started')
    expect((await serve(['--log-level', 'info'], { SHOAL_LOG_LEVEL: 'warn' })).map((l) => JSON.parse(l).msg)).toContain('coordinator started')

    const bad = spawn(process.execPath, ['bin/shoal.js', 'coordinator', '--log-level', 'loud'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    bad.stderr!.on('data', (b: Buffer) => (err += b.toString()))
    const code = await new Promise((r) => bad.once('exit', r))
    expect(code).toBe(2)
    expect(err.trim().split('\n')).toEqual([expect.stringMatching(/--log-level must be one of trace, debug, info, warn, error, fatal, silent, not "loud"/)])
  }, 180_000)
})
