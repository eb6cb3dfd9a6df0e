/**
 * Reads an HTTP answer body up to a byte cap: past it the stream is destroyed and the read
 * fails with 'too-large', so an answer that never ends (or is huge) costs at most
 * `maxBytes` of memory. Time is bounded by the caller's signal (AbortSignal.timeout on the
 * request), which ends the body too.
 */
import { ShoalError } from '../protocol/errors.js'

export interface CappedBody extends AsyncIterable<Uint8Array> {
  destroy?(err?: Error): unknown
}

export async function readCapped(body: CappedBody, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > maxBytes) {
      body.destroy?.()
      throw new ShoalError('too-large', `${what} is larger than ${maxBytes} bytes; not reading the rest`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** The largest line a line-by-line reader keeps before it gives up on the stream. */
export function checkLineLength(pending: number, maxBytes: number, what: string): void {
  if (pending > maxBytes) throw new ShoalError('too-large', `${what} sent a line longer than ${maxBytes} bytes without a newline; stopping`)
}
