import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'

/**
 * The sha256 of a file, streamed in 1 MiB reads, as hex: how a layer is checked against
 * its signed manifest. The boot agent, the coordinator's image store and the layer builder
 * all hash with this one (node built-ins only: the boot agent runs in the initramfs).
 */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer)
  return h.digest('hex')
}
