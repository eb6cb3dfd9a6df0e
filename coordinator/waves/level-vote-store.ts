/**
 * The vote's Store port (agent/protocol/ports.ts) over the coordinator's level state:
 * bytes kept base64 in a JSON value under `wavevote!<key>` (the key VoteNode names, e.g.
 * `vote/w1`), so one database holds everything and a backup is one directory.
 */
import { z } from 'zod'
import type { Store } from '../../agent/protocol/ports.js'
import type { StateStore } from '../state-store.js'

const Packed = z.object({ packed: z.string() }).strict()
export const voteStoreKey = (key: string) => `wavevote!${key}`
/** The key VoteNode persists a wave's state under. */
export const waveVoteKey = (waveId: string) => `vote/${waveId}`

export function levelVoteStore(store: StateStore): Store {
  return {
    async get(key) {
      const row = await store.get(voteStoreKey(key), Packed)
      return row ? new Uint8Array(Buffer.from(row.packed, 'base64')) : undefined
    },
    put: (key, value) => store.put(voteStoreKey(key), { packed: Buffer.from(value).toString('base64') }),
    del: (key) => store.batch([{ type: 'del', key: voteStoreKey(key) }]),
  }
}
