#!/usr/bin/env bash
# Installs the system packages the test suite uses for real: Ceph (mon, mgr, osd, cli),
# QEMU + iPXE + busybox + squashfs-tools for netboot tests, a Debian kernel image
# (extracted, not installed), dnsmasq for the netboot test LAN, nginx for the image-server benchmark, kubectl,
# promtool (Debian's prometheus) for the metrics tests, chromium for the cluster page test and
# lldpd for the LLDP test (run in network namespaces only).
# Idempotent: skips what is already present. Needs root (or sudo).
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need=()
command -v ceph >/dev/null        || need+=(ceph-mon ceph-mgr ceph-osd ceph-common)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86 ipxe-qemu)
[ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 && file -L /bin/busybox 2>/dev/null | grep -q static || need+=(busybox-static)
command -v mksquashfs >/dev/null  || need+=(squashfs-tools)
command -v cpio >/dev/null        || need+=(cpio)
command -v zstd >/dev/null        || need+=(zstd)
command -v nginx >/dev/null       || need+=(nginx-light)
command -v kubectl >/dev/null     || need+=(kubernetes-client)
command -v file >/dev/null        || need+=(file)
command -v ip >/dev/null          || need+=(iproute2)
command -v dnsmasq >/dev/null     || need+=(dnsmasq-base)   # DHCP + TFTP on the QEMU e2e test LAN
command -v lldpd >/dev/null       || need+=(lldpd)          # LLDP in network namespaces (test/lldp-live.test.ts; not started as a service)
command -v promtool >/dev/null    || need+=(prometheus)     # promtool check metrics, against live agents and the coordinator
command -v chromium >/dev/null    || need+=(chromium)       # the cluster page, driven headless by playwright-core
# lldpd (and dnsmasq) are for the tests, which run them inside network namespaces: never as
# this machine's services, not even for a moment (lldpd would announce the host on its LAN).
# So the package scripts may not start services while we install: a policy-rc.d that says
# no (removed afterwards, unless the machine had one) and, on systemd, the unit masked first.
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  if [[ " ${need[*]} " == *" lldpd "* ]] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $SUDO systemctl mask lldpd >/dev/null 2>&1 || true
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "${need[@]}" >/dev/null || { [ -n "$own_policy" ] && $SUDO rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ -n "$own_policy" ] && $SUDO rm -f /usr/sbin/policy-rc.d
fi
# A kernel for QEMU workers, unpacked into .cache/kernel without installing it on the host.
root=$(cd "$(dirname "$0")/.." && pwd)
kdir="$root/.cache/kernel"
fetch_kernel() {
  mkdir -p "$kdir" && cd "$kdir" || return 1
  $SUDO apt-get update -qq || true
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  [ -n "$pkg" ] || return 1
  echo "setup: fetching kernel package $pkg"
  apt-get download "$pkg" >/dev/null || return 1
  dpkg-deb -x ./*.deb x || return 1
  cp x/boot/vmlinuz-* vmlinuz || return 1
  mv x/lib/modules/* modules 2>/dev/null || mv x/usr/lib/modules/* modules || return 1
  rm -rf x ./*.deb
}
# The kernel only serves the QEMU tests, which skip with a line of their own without it.
if [ ! -f "$kdir/vmlinuz" ]; then
  ( fetch_kernel ) || { rm -rf "$kdir"; echo "setup: could not fetch a kernel package; the QEMU tests will skip"; }
fi
echo "setup: done"
