/**
 * `shoal shell NODE [-- COMMAND ...]`: a shell (or one command) on a worker, through that
 * worker's agent (docs/shell.md). The CLI asks any agent (--agent) where NODE's agent is,
 * signs a grant for NODE with the operator's key, and speaks v5.channel.k8s.io to it.
 * Exit status: the remote command's; 2 for a usage error; 255 when no session could be
 * opened (refused, unreachable), as ssh does.
 */
import { randomBytes } from 'node:crypto'
import { AgentClient, checkAgentAddress, DEFAULT_AGENT } from '../../agent/api/agent-client.js'
import { openShell } from '../../agent/api/shell-client.js'
import { ShoalError } from '../../agent/protocol/errors.js'
import { NodeId } from '../../agent/protocol/node-record.js'
import { MAX_GRANT_LIFETIME_MS, OperatorName, signGrant } from '../../agent/protocol/shell-grant.js'
import { parse } from '../args.js'
import type { CliIo } from '../main.js'
import { AsciicastWriter } from '../asciicast.js'
import { readOperatorKey } from '../operator-key.js'

export const summary = 'a shell or one command on a node: shoal shell NODE [-- COMMAND ...] (--key FILE, --operator NAME)'
const USAGE = `shoal shell NODE [-- COMMAND ARG ...] [--agent HOST:PORT] [--key FILE] [--operator NAME] [--ttl-minutes N] [-t|-T]
  --key       operator private key (else $SHOAL_OPERATOR_KEY)
  --operator  your name on the roster (else $SHOAL_OPERATOR, else $USER)
  -t / -T     force / refuse a terminal (default: a terminal when stdin is one)
  --record    keep the session's output as an asciicast v2 file (asciinema play FILE)`

/** Exit status when no session could be opened (ssh's). */
export const SHELL_FAILED = 255

export async function run(argv: string[], io: CliIo): Promise<number> {
  const dash = argv.indexOf('--')
  const flags = dash >= 0 ? argv.slice(0, dash) : argv
  const command = dash >= 0 ? argv.slice(dash + 1) : []
  const { values, positionals } = parse(
    flags,
    {
      agent: { type: 'string' },
      key: { type: 'string' },
      operator: { type: 'string' },
      'ttl-minutes': { type: 'string' },
      tty: { type: 'boolean', short: 't' },
      'no-tty': { type: 'boolean', short: 'T' },
      record: { type: 'string' },
    },
    USAGE,
  )
  if (positionals.length !== 1) throw new ShoalError('usage', `${positionals.length ? `unexpected argument "${positionals[1]}"` : 'missing NODE'}\nusage: ${USAGE}`)
  const node = positionals[0]!
  if (!NodeId.safeParse(node).success) throw new ShoalError('usage', `"${node}" is not a node id (list them with: shoal nodes)`)
  if (dash >= 0 && command.length === 0) throw new ShoalError('usage', `nothing after "--": give the command to run\nusage: ${USAGE}`)
  const keyFile = (values.key as string | undefined) ?? process.env.SHOAL_OPERATOR_KEY
  if (!keyFile) throw new ShoalError('usage', `no operator key: pass --key FILE or set SHOAL_OPERATOR_KEY (make one with: shoal coordinator operator keygen FILE)\nusage: ${USAGE}`)
  const operator = (values.operator as string | undefined) ?? process.env.SHOAL_OPERATOR ?? process.env.USER ?? ''
  if (!OperatorName.safeParse(operator).success) throw new ShoalError('usage', `"${operator}" is not an operator name: pass --operator NAME (the name given to shoal coordinator operator add)`)
  const ttlMin = Number((values['ttl-minutes'] as string | undefined) ?? 5)
  if (!(ttlMin > 0 && ttlMin * 60_000 <= MAX_GRANT_LIFETIME_MS)) throw new ShoalError('usage', `--ttl-minutes must be more than 0 and at most ${MAX_GRANT_LIFETIME_MS / 60_000}`)
  const stdin = process.stdin
  const tty = values['no-tty'] ? false : values.tty ? true : stdin.isTTY === true
  const keyring = await readOperatorKey(keyFile)

  const via = checkAgentAddress((values.agent as string | undefined) ?? process.env.SHOAL_AGENT ?? DEFAULT_AGENT)
  const client = new AgentClient(via)
  let address: string
  try {
    const n = await client.node(node)
    if (!n.api) throw new ShoalError('not-found', `node "${node}" publishes no API address; is its agent running?`)
    if (n.status === 'dead') throw new ShoalError('unreachable', `node "${node}" is dead in the view of ${via}`)
    address = n.api
  } catch (err) {
    io.err(`error: ${(err as Error).message}`)
    return SHELL_FAILED
  } finally {
    await client.close()
  }

  const now = Date.now()
  const token = signGrant(
    { v: 1, node, operator, key: keyring.publicKey, command: command.length ? command : null, issuedAt: now, expiresAt: now + Math.round(ttlMin * 60_000), nonce: randomBytes(16).toString('hex') },
    keyring,
  )
  const out = process.stdout
  const recordFile = values.record as string | undefined
  let rec: AsciicastWriter | undefined
  try {
    rec = recordFile ? new AsciicastWriter(recordFile, { width: out.columns ?? 80, height: out.rows ?? 24, title: `shoal shell ${node}`, ...(command.length ? { command: command.join(' ') } : {}) }) : undefined
  } catch (err) {
    io.err(`error: cannot record to ${recordFile}: ${(err as Error).message}`)
    return SHELL_FAILED
  }
  let conn
  try {
    conn = await openShell(
      { address, token, tty, cols: out.columns ?? 80, rows: out.rows ?? 24 },
      {
        stdout: (d) => (out.write(d), rec?.output(d)),
        stderr: (d) => (process.stderr.write(d), rec?.output(d)),
      },
    )
  } catch (err) {
    await rec?.close().catch(() => {})
    io.err(`error: ${(err as Error).message}`)
    return SHELL_FAILED
  }
  const onResize = () => {
    conn.resize(out.columns ?? 80, out.rows ?? 24)
    rec?.resize(out.columns ?? 80, out.rows ?? 24)
  }
  const onData = (d: Buffer) => conn.write(d)
  const onEnd = () => conn.endInput()
  // Without a terminal, Ctrl-C ends the local side; the agent then ends the remote command.
  const onSigint = () => conn.close()
  if (tty && stdin.isTTY) stdin.setRawMode(true)
  if (out.isTTY) out.on('resize', onResize)
  if (!tty) process.on('SIGINT', onSigint)
  stdin.on('data', onData)
  stdin.on('end', onEnd)
  stdin.resume()
  try {
    return await conn.done
  } catch (err) {
    io.err(`\nerror: ${(err as Error).message}`)
    return SHELL_FAILED
  } finally {
    if (tty && stdin.isTTY) stdin.setRawMode(false)
    out.off('resize', onResize)
    process.off('SIGINT', onSigint)
    stdin.off('data', onData)
    stdin.off('end', onEnd)
    stdin.pause()
    stdin.unref?.()
    if (rec) await rec.close().catch((err: Error) => io.err(`error: ${err.message}`))
  }
}
