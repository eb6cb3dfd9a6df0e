/**
 * The agent's `upgrade` config block: what it needs to take part in upgrade waves. Absent:
 * the agent never votes or reboots for a wave. Every field carries its unit and reason.
 */
import { z } from 'zod'
import { PublicKeyHex } from './node-record.js'
import { VoteConfig } from './vote/vote-config.js'

export const UpgradeConfig = z
  .object({
    /** The coordinator's public key (hex): only waves and control messages it signed count. */
    coordinatorKey: PublicKeyHex,
    /** Where POST /v1/assign goes (the coordinator's HTTP base URL, http://host:port). */
    coordinatorUrl: z.string().url(),
    /** This machine's CRUSH host and Kubernetes node name; defaults to the node id. */
    host: z.string().min(1).max(253).optional(),
    /** Ceph client config; without it (and without skip ceph) the gates fail closed. */
    cephConf: z.string().min(1).optional(),
    cephKeyring: z.string().min(1).optional(),
    cephName: z.string().min(1).optional(),
    /** Kubeconfig for the API server; without it (and without skip kube) the gates fail closed. */
    kubeconfig: z.string().min(1).optional(),
    /** The kubelet's /healthz URL for the post-reboot gate; absent: node Ready covers it. */
    kubeletUrl: z.string().url().optional(),
    /** Sources not checked on purpose (stated in every gate verdict). The demo skips ceph and kube. */
    skip: z.array(z.enum(['ceph', 'kube', 'kubelet'])).max(3),
    /** How a reboot happens: `reboot` (`reboot -f`, production) or `exit` (exit code 75; the supervisor restarts the agent on the new image — live tests, the demo). */
    rebooter: z.enum(['reboot', 'exit']),
    /** The node's own gate verdicts are re-evaluated and published this often. 2 s: a freed slot is taken within about one round. */
    gateIntervalMs: z.number().int().positive(),
    /** Per probe call. 10 s: a loaded mon answers within it; a stuck one fails the gate closed. */
    probeTimeoutMs: z.number().int().positive(),
    /** Longest drain before drainPolicy applies. 5 min: kubectl's usual patience for graceful pod shutdown. */
    drainDeadlineMs: z.number().int().positive(),
    /** At the drain deadline: `halt` fails the node (the wave stops), `force` deletes what blocks. */
    drainPolicy: z.enum(['halt', 'force']),
    /** Longest wait for the post-reboot gate after boot. 15 min: Ceph backfill after a reboot can take that. */
    verifyTimeoutMs: z.number().int().positive(),
    /** Poll interval of the post-reboot gate. 1 s: each poll is one probe round. */
    verifyPollMs: z.number().int().positive(),
    /** Longest retrying of POST /v1/assign (the coordinator may not have seen the grant yet). 30 s. */
    assignDeadlineMs: z.number().int().positive(),
    /** Vote timing overrides (agent/protocol/vote/vote-config.ts). */
    vote: VoteConfig.partial().optional(),
  })
  .strict()
export type UpgradeConfig = z.infer<typeof UpgradeConfig>

export const upgradeDefaults = Object.freeze({
  skip: [],
  rebooter: 'reboot',
  gateIntervalMs: 2000,
  probeTimeoutMs: 10_000,
  drainDeadlineMs: 300_000,
  drainPolicy: 'halt',
  verifyTimeoutMs: 900_000,
  verifyPollMs: 1000,
  assignDeadlineMs: 30_000,
} satisfies Partial<UpgradeConfig>)

/** The block as written in a config file: defaults filled in, then validated. */
export const UpgradeConfigInput = z.preprocess((v) => (v && typeof v === 'object' && !Array.isArray(v) ? { ...upgradeDefaults, ...v } : v), UpgradeConfig)
