/**
 * controller: the coordinator (image server, enrollment, bootstrap DHT node) as a service.
 * Same `shoal` bundle as the worker; the service runs `shoal coordinator`.
 */
import type { LayerSpec } from '../layer-spec.js'
import { put } from '../stage.js'
import { stageShoalCli } from './worker.js'

export const COORDINATOR_ENV_PATH = '/etc/shoal/coordinator.env'

// Site settings (bind address, public URL, approval, ...) are SHOAL_COORDINATOR_<FIELD>=value
// lines in COORDINATOR_ENV_PATH (coordinator/coordinator-config.ts configFromEnv): the exec
// line names only where the state and the images live, and flags would override the file.
const SERVICE = `#!/bin/sh
# shoal-coordinator: respawned by init. Site settings: ${COORDINATOR_ENV_PATH} (docs/coordinator.md).
if [ -r ${COORDINATOR_ENV_PATH} ]; then set -a; . ${COORDINATOR_ENV_PATH}; set +a; fi
exec /usr/bin/shoal coordinator serve --data-dir /var/lib/shoal/coordinator --images-dir /var/lib/shoal/images
`

export const controller: LayerSpec = {
  name: 'controller',
  description: 'the shoal coordinator and its service',
  archPackages: ['nginx', 'dnsmasq'],
  async stage(ctx) {
    await stageShoalCli(ctx)
    const { root, version } = ctx
    await put(root, 'etc/shoal/image-version', `${version}\n`)
    await put(root, 'etc/shoal/role', 'controller\n')
    await put(root, 'etc/shoal/services/shoal-coordinator', SERVICE, 0o755)
    await put(root, 'etc/inittab', '::sysinit:/etc/shoal/rc.sysinit\n::respawn:/etc/shoal/services/shoal-coordinator\n::ctrlaltdel:/sbin/reboot\n::shutdown:/bin/sync\n')
  },
}
