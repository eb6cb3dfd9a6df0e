/**
 * How a worker fetches its layers (docs/layers.md, "Turning it on and off"):
 *
 *   shoal.layers=chunks[,upload=MIB]   chunk by chunk from peers and the coordinator, each
 *                                      chunk verified; once running, the worker serves its
 *                                      layers' chunks to booting workers at most MIB MiB/s
 *                                      (default 25; 0: it serves none once running)
 *   shoal.layers=http                  whole files from the coordinator, as before chunks
 *
 * The coordinator's boot script writes `shoal.layers=chunks` unless the operator's
 * kernelArgs already carry a `shoal.layers=` word. Several on one line: the last wins (the
 * kernel's rule). Absent (a boot script of a coordinator that predates chunks): whole files.
 */
export interface LayersParam {
  chunked: boolean
  /** upload=MIB, in bytes/s; absent: the run-mode agent's default. */
  uploadBytesPerSec?: number
}

export class LayersParamError extends Error {
  readonly code = 'bad-cmdline'
}

const WORD = 'shoal.layers='

/** The word for `p`. */
export function formatLayersParam(p: LayersParam): string {
  if (!p.chunked) return `${WORD}http`
  return `${WORD}chunks${p.uploadBytesPerSec !== undefined ? `,upload=${+(p.uploadBytesPerSec / 1048576).toFixed(3)}` : ''}`
}

/** Reads the last `shoal.layers=`; undefined when absent. Throws LayersParamError saying what is wrong. */
export function parseLayersParam(cmdline: string): LayersParam | undefined {
  const last = cmdline.trim().split(/\s+/).filter((w) => w.startsWith(WORD)).at(-1)
  if (last === undefined) return undefined
  const [mode, ...opts] = last.slice(WORD.length).split(',')
  const usage = 'shoal.layers=chunks, shoal.layers=chunks,upload=MIB (MiB/s a running worker serves at most; 0: none) or shoal.layers=http'
  if (mode === 'http' && opts.length === 0) return { chunked: false }
  if (mode !== 'chunks') throw new LayersParamError(`shoal.layers: "${last.slice(WORD.length)}" is not ${usage}`)
  const out: LayersParam = { chunked: true }
  for (const o of opts) {
    const m = /^upload=(\d+(?:\.\d+)?)$/.exec(o)
    if (!m || Number(m[1]) > 100_000) throw new LayersParamError(`shoal.layers: "${o}" is not upload=MIB (0 to 100000); the forms are ${usage}`)
    out.uploadBytesPerSec = Math.round(Number(m[1]) * 1048576)
  }
  return out
}
