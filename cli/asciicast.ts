/**
 * `shoal shell --record FILE`: the session as an asciicast v2 file (asciinema's format:
 * a JSON header line, then `[seconds, "o", text]` output and `[seconds, "r", "COLSxROWS"]`
 * resize events), written by the CLI as the output arrives.
 */
import { createWriteStream, type WriteStream } from 'node:fs'
import { ShoalError } from '../agent/protocol/errors.js'

export class AsciicastWriter {
  private readonly out: WriteStream
  private readonly t0 = performance.now()
  private readonly decoder = new TextDecoder('utf-8')

  constructor(file: string, header: { width: number; height: number; title: string; command?: string }) {
    this.out = createWriteStream(file, { flags: 'wx', mode: 0o600 })
    this.out.on('error', () => {}) // reported by close()
    this.out.write(JSON.stringify({ version: 2, width: header.width, height: header.height, timestamp: Math.floor(Date.now() / 1000), title: header.title, ...(header.command ? { command: header.command } : {}), env: { TERM: process.env.TERM ?? 'xterm-256color' } }) + '\n')
  }

  private event(code: 'o' | 'r', data: string): void {
    this.out.write(JSON.stringify([Math.round(performance.now() - this.t0) / 1000, code, data]) + '\n')
  }

  output(chunk: Buffer): void {
    // A multi-byte character may straddle two chunks: stream-decode.
    const text = this.decoder.decode(chunk, { stream: true })
    if (text) this.event('o', text)
  }

  resize(cols: number, rows: number): void {
    this.event('r', `${cols}x${rows}`)
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.out.end(() => resolve())
      this.out.once('error', (err) => reject(new ShoalError('record', `cannot write the recording: ${err.message}`)))
    })
  }
}
