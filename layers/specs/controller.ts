/**
 * controller: the coordinator (image server, enrollment, bootstrap DHT node) as a service.
 * Same `shoal` bundle as the worker; the service runs `shoal coordinator`.
 */
import type { LayerSpec } from '../layer-spec.js'
import { put } from '../stage.js'
import { stageShoalCli } from './worker.js'

const SERVICE = `#!/bin/sh
exec /usr/bin/shoal coordinator --state-dir /var/lib/shoal/coordinator --images /var/lib/shoal/images
`

export const controller: LayerSpec = {
  name: 'controller',
  description: 'the shoal coordinator and its service',
  archPackages: ['nginx'],
  async stage(ctx) {
    await stageShoalCli(ctx)
    const { root, version } = ctx
    await put(root, 'etc/shoal/image-version', `${version}\n`)
    await put(root, 'etc/shoal/role', 'controller\n')
    await put(root, 'etc/shoal/services/shoal-coordinator', SERVICE, 0o755)
    await put(root, 'etc/inittab', '::sysinit:/etc/shoal/rc.sysinit\n::respawn:/etc/shoal/services/shoal-coordinator\n::ctrlaltdel:/sbin/reboot\n::shutdown:/bin/sync\n')
  },
}
