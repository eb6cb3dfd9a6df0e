/**
 * The enrollment's `shoal.*` parameters: what the boot script puts on the kernel command
 * line so the boot agent can enroll and check every answer offline (the rest of the
 * `shoal.*` words, and the one table of them all, are in ./index.ts).
 *
 *   shoal.coordinator=URL   coordinator base URL as the worker reaches it (no trailing /)
 *   shoal.token=HEX         the one-time join token, bound to shoal.mac
 *   shoal.mac=MAC           the MAC that iPXE booted from (the token's binding)
 *   shoal.bootstrap=H:P[,H:P] the mesh's DHT bootstrap node(s)
 *   shoal.image=V           the image version assigned to this node
 *   shoal.cluster=ID        cluster id
 *   shoal.clusterkey=HEX    cluster public key: pins what must sign certificate, roster, manifest
 */
import { z } from 'zod'
import { ClusterId, HostPort, JoinToken, Mac } from '../enroll/index.js'
import { ImageVersion } from '../image-version.js'
import { PublicKeyHex } from '../node-record.js'

/** The enrollment parameters, parsed: each field is validated as the coordinator wrote it. */
export const BootParams = z
  .object({
    coordinator: z.string().regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'coordinator: an http(s) URL').transform((u) => u.replace(/\/+$/, '')),
    token: JoinToken,
    mac: Mac,
    bootstrap: z.array(HostPort).min(1),
    image: ImageVersion,
    cluster: ClusterId,
    clusterKey: PublicKeyHex,
  })
  .strict()
export type BootParams = z.infer<typeof BootParams>

/** Each field's word on the command line. */
export const BOOT_PARAM_NAMES = {
  coordinator: 'shoal.coordinator',
  token: 'shoal.token',
  mac: 'shoal.mac',
  bootstrap: 'shoal.bootstrap',
  image: 'shoal.image',
  cluster: 'shoal.cluster',
  clusterKey: 'shoal.clusterkey',
} as const satisfies Record<keyof BootParams, string>
const paramNames: Record<keyof BootParams, string> = BOOT_PARAM_NAMES

/** Renders the parameters as `shoal.key=value` words (none contains a space by construction). */
export function formatBootParams(p: BootParams): string {
  const v = BootParams.parse(p)
  return (Object.keys(paramNames) as (keyof BootParams)[])
    .map((k) => `${paramNames[k]}=${k === 'bootstrap' ? v.bootstrap.join(',') : String(v[k])}`)
    .join(' ')
}

export type BootParamsResult = { ok: true; params: BootParams } | { ok: false; error: string }

/** Reads `shoal.*` words from a kernel command line (other words are ignored). */
export function parseBootParams(cmdline: string): BootParamsResult {
  const raw: Record<string, unknown> = {}
  const byName = new Map(Object.entries(paramNames).map(([k, n]) => [n, k]))
  for (const word of cmdline.trim().split(/\s+/)) {
    const eq = word.indexOf('=')
    if (eq < 0) continue
    const key = byName.get(word.slice(0, eq))
    if (!key) continue
    const value = word.slice(eq + 1)
    raw[key] = key === 'bootstrap' ? value.split(',').filter(Boolean) : value
  }
  const parsed = BootParams.safeParse(raw)
  if (parsed.success) return { ok: true, params: parsed.data }
  return {
    ok: false,
    error: parsed.error.issues.map((i) => `${paramNames[i.path[0] as keyof BootParams] ?? String(i.path[0])}: ${i.message}`).join('; '),
  }
}
