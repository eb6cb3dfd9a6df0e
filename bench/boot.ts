/**
 * QEMU power-on -> all joined, measured by the boot e2e (test/e2e/boot.test.ts) without its
 * deliberate coordinator outage: three TCG workers netboot by iPXE from the coordinator,
 * enroll, mount their verified layers and join the mesh. Prints one JSON line:
 *   {"bench":"boot.power-on-to-joined","vms":3,"accel":"tcg","seconds":..,"perVm":[..],"load1":..}
 * and one line per worker with where its time went (s per phase; test/e2e/harness/boot-phases.ts):
 *   {"bench":"boot.phases","vm":"worker1","took":{"script":..,"kernel":..,...,"joined":..}}
 * Target: power-on to joined <= 30 s under TCG. Bounded by SHOAL_E2E_DEADLINE_S (default 170 s).
 * The host's load average is printed with it: TCG guests slow down in proportion.
 */
import { spawn } from 'node:child_process'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const load1 = Math.round(loadavg()[0]! * 10) / 10
const child = spawn(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', 'test/e2e/boot.test.ts'], {
  cwd: root,
  env: { ...process.env, SHOAL_E2E_RESTART: '0', SHOAL_E2E_DEADLINE_S: process.env.SHOAL_E2E_DEADLINE_S ?? '170' },
  stdio: ['ignore', 'pipe', 'inherit'],
})
let out = ''
child.stdout.on('data', (c: Buffer) => (out += c.toString()))
const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? 1)))
const result = /e2e-result (\{.*\})/.exec(out)?.[1]
if (result) {
  console.log(JSON.stringify({ ...JSON.parse(result), bench: 'boot.power-on-to-joined', load1 }))
  for (const m of out.matchAll(/e2e-phases (\{.*\})/g)) {
    const p = JSON.parse(m[1]!) as { vm: string; took: Record<string, number> }
    console.log(JSON.stringify({ bench: 'boot.phases', vm: p.vm, took: p.took }))
  }
}
else {
  const skip = /skipping the QEMU boot e2e: (.*)/.exec(out)?.[1]
  console.log(JSON.stringify({ bench: 'boot.power-on-to-joined', ok: false, reason: skip ? `skipped: ${skip}` : `e2e failed (exit ${code}); see its logs`, load1 }))
}
