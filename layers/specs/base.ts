/**
 * base: the operating system every role shares — in production Arch's base with nodejs;
 * in the test build busybox (shell, init, mount, ip) only. The test root takes its node
 * runtime from the initramfs, which already carries the very same binary: the runtime hook
 * copies it into the tmpfs upper before switch_root (initramfs-hooks/hooks/shoal), so a
 * booting worker fetches 31 MiB less. Set SHOAL_BASE_WITH_NODE=1 to put node in the layer.
 * Its /sbin/init is busybox init reading /etc/inittab: it runs /etc/shoal/rc.sysinit once
 * and respawns every service listed in the inittab lines that later layers add.
 */
import type { LayerSpec } from '../layer-spec.js'
import { installBusybox, installNode, put } from '../stage.js'

const RC_SYSINIT = `#!/bin/sh
# Runs once after switch_root. The initramfs moved /proc, /sys, /dev and /run here already;
# mount whatever is missing so this also works when booted another way. Shell builtins where
# a command would fork: under TCG every process costs ~0.1 s of the guest's one CPU, and the
# agent starts only after this script (docs/boot.md, "After switch_root").
export PATH=/usr/bin:/usr/sbin:/bin:/sbin
[ -e /proc/mounts ] || mount -t proc proc /proc
mounts=" "
while read -r _ dir _; do mounts="$mounts$dir "; done < /proc/mounts
mounted() { case "$mounts" in *" $1 "*) return 0 ;; esac; return 1; }
mounted /sys || mount -t sysfs sysfs /sys
mounted /dev || mount -t devtmpfs devtmpfs /dev
mounted /run || mount -t tmpfs tmpfs /run
mkdir -p /tmp /var/lib/shoal /var/log
mounted /tmp || mount -t tmpfs tmpfs /tmp
host=""
[ -s /etc/hostname ] && read -r host < /etc/hostname
[ -n "$host" ] && echo "$host" > /proc/sys/kernel/hostname
[ -n "$host" ] || read -r host < /proc/sys/kernel/hostname
# lo is up already when the initramfs brought the network up (IFF_UP is bit 0 of its flags).
flags=0
read -r flags 2>/dev/null < /sys/class/net/lo/flags
[ $((flags & 1)) = 1 ] || ip link set lo up
version=""
layers=""
read -r version 2>/dev/null < /etc/shoal/image-version
read -r layers 2>/dev/null < /etc/shoal/layers
echo "shoal: image $version up on $host, layers: $layers"
`

export const base: LayerSpec = {
  name: 'base',
  description: 'operating system: shell, init, mount, networking tools, the node runtime',
  archPackages: ['base', 'linux-firmware', 'iproute2', 'nodejs', 'squashfs-tools'],
  async stage({ root, version, cacheDir }) {
    await installBusybox(root)
    if (process.env.SHOAL_BASE_WITH_NODE === '1') await installNode(root, cacheDir)
    for (const d of ['proc', 'sys', 'dev', 'run', 'tmp', 'mnt', 'root', 'var/lib', 'etc/shoal/services', 'usr/lib/shoal']) {
      await put(root, `${d}/.keep`, '')
    }
    await put(root, 'etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n')
    await put(root, 'etc/group', 'root:x:0:\n')
    await put(root, 'etc/hosts', '127.0.0.1 localhost\n')
    await put(root, 'etc/os-release', `NAME="shoal test base"\nID=shoal\nVERSION_ID=${version}\n`)
    await put(root, 'etc/shoal/rc.sysinit', RC_SYSINIT, 0o755)
    // The top layer of each role replaces /etc/inittab with one that also respawns its services.
    await put(root, 'etc/inittab', '::sysinit:/etc/shoal/rc.sysinit\n::ctrlaltdel:/sbin/reboot\n::shutdown:/bin/sync\n')
  },
}
