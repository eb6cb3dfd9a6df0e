/**
 * A quick check of a decoded node record body against `NodeRecordBody` (node-record.ts),
 * written out by hand, as message-check.ts does for frames: zod's parse of each new record
 * was ~4% of an agent's CPU while a 50-node mesh formed (docs/mesh.md). The contract, held
 * by record-check.test.ts: true only for a value the zod schema accepts, and then the
 * value itself is the body (zod's loose parse would return an equal copy); false when
 * unsure — a body with reboot-gate facts (`health.gates`, `health.stop`), or any oddity —
 * and then zod decides. Never throws.
 */
import { isNodeId, isNum, isObj, isStr, isStrArray, isUint, type Obj } from './message-check.js'

const PUBLIC_KEY = /^[0-9a-f]{64}$/
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/
const PHASES = new Set(['booting', 'joining', 'ready', 'draining', 'rebooting', 'verifying', 'failed', 'leaving'])
const HEALTH = new Set(['ok', 'warning', 'critical', 'unknown'])
const SEVERITY = new Set(['info', 'warning', 'critical'])
const MAX = Number.MAX_SAFE_INTEGER

const absentOr = (x: unknown, check: (x: unknown) => boolean): boolean => x === undefined || check(x)
const isCount = (x: unknown): boolean => isUint(x, MAX)
const isAmount = (x: unknown): boolean => isNum(x) && (x as number) >= 0
const isIn = (set: Set<string>) => (x: unknown): boolean => typeof x === 'string' && set.has(x)

function isInventory(v: unknown): boolean {
  if (!isObj(v)) return false
  return (
    absentOr(v.vendor, (x) => isStr(x, 128)) &&
    absentOr(v.product, (x) => isStr(x, 128)) &&
    absentOr(v.cpuModel, (x) => isStr(x, 128)) &&
    absentOr(v.cpuCores, isCount) &&
    absentOr(v.memoryBytes, isAmount) &&
    absentOr(v.disks, isCount) &&
    absentOr(v.diskBytes, isAmount) &&
    absentOr(v.nics, isCount) &&
    absentOr(v.gpus, isCount)
  )
}

function isCondition(c: unknown): boolean {
  return isObj(c) && isStr(c.id, 64) && isIn(SEVERITY)(c.severity) && isNum(c.since) && isStr(c.message, 256) && isStr(c.source, 32)
}

function isHealth(h: unknown): boolean {
  if (!isObj(h) || !isIn(HEALTH)(h.status)) return false
  // The reboot gates' facts are rarer and richer: zod checks them.
  if (h.gates !== undefined || h.stop !== undefined) return false
  if (!absentOr(h.kubeletReady, (x) => typeof x === 'boolean') || !absentOr(h.osdsUp, isCount) || !absentOr(h.osdsTotal, isCount)) return false
  if (!Array.isArray(h.conditions) || h.conditions.length > 16) return false
  for (const c of h.conditions) if (!isCondition(c)) return false
  return true
}

function isWorkload(w: unknown): boolean {
  return isObj(w) && isCount(w.pods) && isAmount(w.load) && absentOr(w.blocked, isCount) && absentOr(w.pgs, isCount) && absentOr(w.primaries, isCount)
}

/** True when `raw` (an unpacked record body) is surely a valid NodeRecordBody; false when unsure or invalid (ask zod). */
export function quickRecordCheck(raw: unknown): raw is Obj {
  if (!isObj(raw)) return false
  const r = raw
  return (
    isNodeId(r.id) &&
    typeof r.key === 'string' &&
    PUBLIC_KEY.test(r.key) &&
    isCount(r.inc) &&
    isCount(r.ver) &&
    typeof r.image === 'string' &&
    (r.image === '' || (r.image.length <= 64 && IMAGE.test(r.image))) &&
    isIn(PHASES)(r.phase) &&
    isStr(r.domain, 64) &&
    absentOr(r.api, (x) => isStr(x, 128)) &&
    absentOr(r.mesh, (x) => isStr(x, 128)) &&
    isInventory(r.inv) &&
    isHealth(r.health) &&
    isStrArray(r.comps, 64, 80) &&
    absentOr(r.work, isWorkload)
  )
}
