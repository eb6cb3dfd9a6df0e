/**
 * Where waves live in level (beside the coordinator's own keys, see state-store.ts):
 *   wave!seq            last wave number (ids are w1, w2, ...)
 *   wave!w<N>           a StoredWave
 */
import { z } from 'zod'
import type { StateStore } from '../state-store.js'
import { StoredWave } from './wave-api.js'

/** Stall timeout of waves stored before it existed. */
export const DEFAULT_STALL_MS = 30 * 60_000

/** The states in which a wave runs (holds slots, takes boot assignments). */
export const ACTIVE = new Set(['running', 'paused'])

const SEQ_KEY = 'wave!seq'
const waveKey = (id: string) => `wave!${id}`

/** Every stored wave, oldest first, and the last wave number. */
export async function loadWaves(store: StateStore): Promise<{ seq: number; waves: StoredWave[] }> {
  const rows = await store.scan('wave!w', StoredWave)
  const seq = (await store.get(SEQ_KEY, z.number().int().nonnegative())) ?? 0
  const waves = rows.map(([, w]) => w).sort((a, b) => a.createdAt - b.createdAt || Number(a.id.slice(1)) - Number(b.id.slice(1)))
  return { seq, waves }
}

/** A new wave and its number, in one write. */
export function saveNewWave(store: StateStore, seq: number, w: StoredWave): Promise<void> {
  return store.batch([
    { type: 'put', key: SEQ_KEY, value: seq },
    { type: 'put', key: waveKey(w.id), value: w },
  ])
}

export function saveWave(store: StateStore, w: StoredWave): Promise<void> {
  return store.put(waveKey(w.id), w)
}
