/** The DHT topic a cluster's agents announce on: sha256 of a namespaced cluster id. */
import { createHash } from 'node:crypto'

export function clusterTopic(clusterId: string): Buffer {
  return createHash('sha256').update(`shoal/mesh/v1/${clusterId}`).digest()
}
