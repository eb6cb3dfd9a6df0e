/**
 * A MeshPort (agent/upgrade VoteRuntime's view of the mesh) without a mesh: what the
 * coordinator uses when it runs no mesh peer (no DHT, tests). Broadcasts and app sends go
 * to a MeshLink; `receive` feeds an app message in as if it came over the mesh.
 */
import { EventEmitter } from 'node:events'
import type { MeshEvent, MeshInput } from '../../agent/protocol/mesh-types.js'
import type { MeshPort } from '../../agent/upgrade/vote-runtime.js'

/** Where app messages leave the coordinator. */
export interface MeshLink {
  broadcast(topic: string, body: Uint8Array): void
  send(to: string, topic: string, body: Uint8Array): void
}

export const noMesh: MeshLink = { broadcast() {}, send() {} }

export class LinkMeshPort extends EventEmitter<{ event: [event: MeshEvent, at: number] }> implements MeshPort {
  constructor(private readonly link: MeshLink) {
    super()
  }

  input(input: MeshInput): void {
    if (input.type === 'broadcast') this.link.broadcast(input.topic, input.body)
    else if (input.type === 'send-app') this.link.send(input.to, input.topic, input.body)
  }

  receive(from: string, topic: string, body: Uint8Array, at = 0): void {
    this.emit('event', { type: 'app', from, topic, body, direct: true }, at)
  }
}
