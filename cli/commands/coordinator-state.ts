/**
 * `shoal coordinator check|backup|restore` — the coordinator's state on disk:
 *   shoal coordinator check [--data-dir DIR]            verify a stopped coordinator's data dir (exit 1 when damaged)
 *   shoal coordinator backup FILE [--coordinator URL]   a consistent snapshot from a running coordinator (admin token)
 *   shoal coordinator restore FILE [--data-dir DIR]     onto a fresh data dir: nodes keep their ids, keys and certificates
 */
import { createWriteStream } from 'node:fs'
import { readFile, rename, rm } from 'node:fs/promises'
import { once } from 'node:events'
import { ShoalError } from '../../agent/protocol/errors.js'
import { adminRoutes } from '../../coordinator/admin-api.js'
import { defaultCoordinatorConfig } from '../../coordinator/coordinator-config.js'
import { checkStateDir, formatCheck } from '../../coordinator/state-check.js'
import { parseBackup, restoreBackup } from '../../coordinator/state-backup.js'
import { parse } from '../args.js'
import { adminTokenFrom, coordinatorUrl } from '../cli-config.js'
import { coordinatorOptions } from '../clients.js'
import type { CliIo } from '../main.js'

export const USAGE = `shoal coordinator check [--data-dir DIR]
       shoal coordinator backup FILE [--coordinator URL] [--admin-token-file FILE]
       shoal coordinator restore FILE [--data-dir DIR]`

/** A backup of 100,000 audit entries is tens of MB; ten minutes covers a slow link. */
const BACKUP_TIMEOUT_MS = 10 * 60_000

export async function runState(sub: 'check' | 'backup' | 'restore', argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, coordinatorOptions, `shoal coordinator ${sub}${sub === 'check' ? '' : ' FILE'} [flags]`, {
    summary: sub === 'check' ? "verify a stopped coordinator's data dir (exit 1 when damaged)" : sub === 'backup' ? 'a consistent snapshot from a running coordinator (admin token)' : 'onto a fresh data dir: nodes keep their ids, keys and certificates',
  })
  const dataDir = (values['data-dir'] as string | undefined) ?? process.env.SHOAL_COORDINATOR_DATA_DIR ?? defaultCoordinatorConfig.dataDir
  const file = positionals[0]
  if (sub === 'check') {
    if (positionals.length) throw new ShoalError('usage', 'check takes no arguments (--data-dir DIR)')
    const report = await checkStateDir(dataDir)
    for (const l of formatCheck(report)) io.out(l)
    return report.problems.length ? 1 : 0
  }
  if (positionals.length !== 1 || !file) throw new ShoalError('usage', `${sub} needs a FILE (see: shoal coordinator ${sub} --help)`)
  if (sub === 'restore') {
    const text = await readFile(file, 'utf8').catch((err) => {
      throw new ShoalError('usage', `cannot read ${file}: ${(err as Error).message}`)
    })
    const r = await restoreBackup(text, file, dataDir)
    io.out(`restored cluster ${r.cluster} into ${dataDir}: ${r.entries} entries, ${r.nodes} node(s), roster version ${r.rosterVersion}`)
    io.out(`start it with: shoal coordinator serve --data-dir ${dataDir} (the admin token is the old one: pass --admin-token or copy the old admin-token file)`)
    return 0
  }
  const url = coordinatorUrl(values)
  const token = adminTokenFrom({ ...values, 'data-dir': dataDir })
  let res: Response
  try {
    res = await fetch(`${url}${adminRoutes.backup}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(BACKUP_TIMEOUT_MS) })
  } catch (err) {
    throw new ShoalError('unreachable', `cannot reach the coordinator at ${url} (${((err as Error).cause as Error)?.message ?? (err as Error).message}); is it running? pass --coordinator URL of a running coordinator`)
  }
  if (!res.ok || !res.body) throw new ShoalError(res.status === 401 ? 'unauthorized' : 'refused', `the coordinator refused the backup (${res.status}): ${(await res.text()).slice(0, 300)}`)
  const tmp = `${file}.partial`
  const out = createWriteStream(tmp, { mode: 0o600 })
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) if (!out.write(chunk)) await once(out, 'drain')
    out.end()
    await once(out, 'close')
    const b = parseBackup(await readFile(tmp, 'utf8'), file)
    await rename(tmp, file)
    io.out(`backup of cluster ${b.cluster}: ${b.entries.length} entries written to ${file} (mode 0600: it holds the cluster key)`)
    return 0
  } catch (err) {
    out.destroy()
    await rm(tmp, { force: true })
    throw err
  }
}
