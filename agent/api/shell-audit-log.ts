/**
 * Recent shell sessions of the whole cluster, as this agent heard of them: its own, and
 * every other agent's from the mesh (app topic `shell.audit`, signed by the node it
 * happened on). Bounded; newest first. A node can only report sessions on itself: a
 * record whose `node` is not the signer is dropped and counted.
 */
import { unpack } from '../protocol/frame.js'
import { ShellSession } from '../protocol/shell-channel.js'

export class ShellAuditLog {
  private readonly byId = new Map<string, ShellSession>()
  dropped = 0
  constructor(private readonly max = 200) {}

  add(s: ShellSession): void {
    this.byId.delete(s.id)
    this.byId.set(s.id, s)
    while (this.byId.size > this.max) this.byId.delete(this.byId.keys().next().value!)
  }

  /** A gossiped record from `origin`; false (and counted) when it does not parse or is about another node. */
  addFromMesh(origin: string, body: Uint8Array): boolean {
    let raw: unknown
    try {
      raw = unpack(body)
    } catch {
      this.dropped++
      return false
    }
    const parsed = ShellSession.safeParse(raw)
    if (!parsed.success || parsed.data.node !== origin) {
      this.dropped++
      return false
    }
    this.add(parsed.data)
    return true
  }

  list(node?: string): ShellSession[] {
    const all = [...this.byId.values()].filter((s) => node === undefined || s.node === node)
    return all.sort((a, b) => b.startedAt - a.startedAt)
  }
}
