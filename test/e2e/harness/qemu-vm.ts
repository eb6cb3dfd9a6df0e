/**
 * One QEMU worker on the test LAN: TCG (no usable KVM assumed), a virtio NIC on its tap
 * with a fixed MAC, SMBIOS system serial and uuid, a virtio disk with a serial, and either
 * a network boot (iPXE from the NIC ROM: DHCP, TFTP boot.ipxe, chain to the coordinator)
 * or a direct kernel + initrd boot. `timeout` bounds it; -no-reboot and panic=-1 make a
 * crash end the process instead of looping.
 */
import { execFileSync, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { ConsoleLog } from './console-log.js'
import type { NetnsLan } from './netns-lan.js'

export interface VmSpec {
  name: string
  tap: string
  mac: string
  /** SMBIOS type 1 serial and uuid: /sys/class/dmi/id/product_{serial,uuid}. */
  serial: string
  uuid: string
  /** virtio-blk serial: /sys/block/vda/serial. */
  diskSerial: string
  memMb: number
  /** Hard limit for the whole VM life (s). */
  timeoutS: number
  boot: { kind: 'pxe' } | { kind: 'kernel'; kernel: string; initrd: string; append: string }
  /** A guest reboot resets the machine (it netboots again), as a real one does. Default: it ends QEMU. */
  rebootable?: boolean
}

export class QemuVm {
  readonly console: ConsoleLog
  private child: ChildProcess | undefined
  /** performance.now() at power-on. */
  startedAt = 0

  constructor(
    readonly spec: VmSpec,
    private readonly lan: NetnsLan,
    private readonly workDir: string,
  ) {
    this.console = new ConsoleLog(join(workDir, `${spec.name}.console.log`))
  }

  start(): void {
    const s = this.spec
    const disk = join(this.workDir, `${s.name}.disk`)
    execFileSync('truncate', ['-s', '64M', disk])
    const boot = s.boot.kind === 'pxe' ? ['-boot', 'n'] : ['-kernel', s.boot.kernel, '-initrd', s.boot.initrd, '-append', s.boot.append]
    const args = [
      String(s.timeoutS), 'qemu-system-x86_64', '-accel', 'tcg', '-cpu', 'max', '-m', String(s.memMb), '-smp', '1',
      '-nographic', ...(s.rebootable ? [] : ['-no-reboot']),
      ...boot,
      '-smbios', `type=1,manufacturer=shoal-e2e,product=worker,serial=${s.serial},uuid=${s.uuid}`,
      '-netdev', `tap,id=n0,ifname=${s.tap},script=no,downscript=no`,
      '-device', `virtio-net-pci,netdev=n0,mac=${s.mac},bootindex=1`,
      '-drive', `file=${disk},format=raw,if=none,id=d0`,
      '-device', `virtio-blk-pci,drive=d0,serial=${s.diskSerial}`,
    ]
    this.startedAt = performance.now()
    this.child = this.lan.spawn('timeout', args, join(this.workDir, `${s.name}.qemu.log`))
    this.console.attach(this.child.stdout!)
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null
  }

  async stop(): Promise<void> {
    if (this.child) await this.lan.kill(this.child)
    this.console.close()
  }
}
