/**
 * A serial console as lines: keeps every line (ANSI escapes and CRs stripped) with the
 * time it arrived, writes them to a log file, and lets a test wait for a line that matches
 * with a deadline — an event, never a fixed sleep.
 */
import { createWriteStream, type WriteStream } from 'node:fs'
import type { Readable } from 'node:stream'

export interface ConsoleLine {
  text: string
  /** performance.now() when it arrived. */
  at: number
}

export class ConsoleLog {
  readonly lines: ConsoleLine[] = []
  private partial = ''
  private readonly waiters = new Set<{ re: RegExp; resolve: (l: ConsoleLine) => void }>()
  private readonly file: WriteStream

  constructor(path: string) {
    this.file = createWriteStream(path, { flags: 'a' })
  }

  attach(stream: Readable): void {
    stream.on('data', (chunk: Buffer) => this.push(chunk.toString('utf8')))
  }

  private push(text: string): void {
    this.file.write(text)
    const parts = (this.partial + text).split('\n')
    this.partial = parts.pop() ?? ''
    for (const raw of parts) {
      // eslint-disable-next-line no-control-regex
      const clean = raw.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1bc|\r/g, '').trimEnd()
      if (!clean) continue
      const line = { text: clean, at: performance.now() }
      this.lines.push(line)
      for (const w of this.waiters) {
        if (w.re.test(clean)) {
          this.waiters.delete(w)
          w.resolve(line)
        }
      }
    }
  }

  /** The first line matching re, from line index `from` on (a rebooted machine prints its boot again). */
  find(re: RegExp, from = 0): ConsoleLine | undefined {
    return this.lines.slice(from).find((l) => re.test(l.text))
  }

  /** Resolves with the first line (already seen from index `from`, or future) matching re; rejects after timeoutMs. */
  waitFor(re: RegExp, timeoutMs: number, what = String(re), from = 0): Promise<ConsoleLine> {
    const seen = this.find(re, from)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const w = {
        re,
        resolve: (l: ConsoleLine) => {
          clearTimeout(t)
          resolve(l)
        },
      }
      const t = setTimeout(() => {
        this.waiters.delete(w)
        reject(new Error(`no console line matching ${what} within ${timeoutMs} ms; last lines:\n${this.tail(8)}`))
      }, timeoutMs)
      this.waiters.add(w)
    })
  }

  tail(n: number): string {
    return this.lines.slice(-n).map((l) => `  | ${l.text}`).join('\n')
  }

  close(): void {
    this.file.end()
  }
}
