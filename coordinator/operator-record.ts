/** One operator as the coordinator stores it (`operator!NAME`): the roster lists name and key. */
import { z } from 'zod'
import { PublicKeyHex } from '../agent/protocol/node-record.js'
import { OperatorName } from '../agent/protocol/shell-grant.js'

export const OperatorRecord = z.object({ name: OperatorName, key: PublicKeyHex, addedAt: z.number().int().nonnegative(), by: z.string().max(128) }).strict()
export type OperatorRecord = z.infer<typeof OperatorRecord>
export const operatorKey = (name: string) => `operator!${name}`
