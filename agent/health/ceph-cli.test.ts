import { chmod, mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CephCli } from './ceph-cli.js'
import { CephProbe } from './ceph-probe.js'
import { raw } from './testdata/fixtures.js'

// Stand-in `ceph` binaries: each behaves like one failure of the real CLI.
let dir = ''
const bin = async (name: string, script: string) => {
  const p = join(dir, name)
  await writeFile(p, `#!/bin/sh\n${script}\n`)
  await chmod(p, 0o755)
  return p
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-cephcli-'))
  await writeFile(join(dir, 'oktostop_no.json'), raw('oktostop_2_while_1_down'))
  await writeFile(join(dir, 'dump.json'), raw('osd_dump'))
  await writeFile(join(dir, 'status.json'), raw('status_ok'))
  await writeFile(join(dir, 'tree.json'), raw('osd_tree'))
  await writeFile(join(dir, 'ok.json'), raw('oktostop_0'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('CephCli', () => {
  it('kills a hanging command at its timeout and says what to check', async () => {
    const cli = new CephCli({ bin: await bin('hang', 'exec sleep 30'), timeoutMs: 300 })
    const t0 = Date.now()
    await expect(cli.json(['osd', 'ok-to-stop', '0'], (await import('./ceph-schemas.js')).CephOkToStop)).rejects.toMatchObject({
      code: 'ceph-timeout',
      message: expect.stringMatching(/ceph osd ok-to-stop 0: no answer within 300 ms \(killed\)\. Is a mon reachable and a mgr active\?/),
    })
    expect(Date.now() - t0).toBeLessThan(5000)
  })

  it('passes the connection options and --format json', async () => {
    const cli = new CephCli({ bin: await bin('echo', 'echo "$@"'), conf: '/etc/x.conf', keyring: '/k', name: 'client.shoal', timeoutMs: 2000 })
    const r = await cli.run(['status'])
    expect(r.stdout.trim()).toBe('--connect-timeout 2 -c /etc/x.conf -k /k -n client.shoal status --format json')
  })

  it('maps exit 11 to "retry" and other failures to an error carrying stderr', async () => {
    const again = new CephCli({ bin: await bin('eagain', 'echo "Error EAGAIN: 17 PGs have unknown state" >&2; exit 11') })
    const probe = new CephProbe({ host: 'node-a' }, again)
    await expect(probe.okToStop([0])).rejects.toMatchObject({ code: 'ceph-retry', message: expect.stringMatching(/cannot tell yet .*unknown state.*retry/) })
    const denied = new CephCli({ bin: await bin('eacces', 'echo "Error EACCES: access denied" >&2; exit 13') })
    await expect(new CephProbe({ host: 'a' }, denied).status()).rejects.toMatchObject({ code: 'ceph-failed', message: 'ceph status: exit 13: Error EACCES: access denied' })
  })

  it('reads exit 16 from ok-to-stop as a "no" with its JSON', async () => {
    const busy = new CephCli({ bin: await bin('ebusy', `cat ${join(dir, 'oktostop_no.json')}; exit 16`) })
    const a = await new CephProbe({ host: 'node-c' }, busy).okToStop([2])
    expect(a.ok).toBe(false)
    expect(a.detail.bad_become_inactive).toHaveLength(17)
  })

  it('rejects output of the wrong shape naming the field', async () => {
    const wrong = new CephCli({ bin: await bin('wrong', `sed 's/"up":1/"up":"yes"/' ${join(dir, 'dump.json')}`) })
    await expect(new CephProbe({ host: 'a' }, wrong).dump()).rejects.toMatchObject({
      code: 'bad-output',
      message: expect.stringMatching(/^ceph osd dump: unexpected output at field osds\[0\]\.up/),
    })
  })

  it('says how to fix a missing ceph binary', async () => {
    const none = new CephCli({ bin: join(dir, 'no-such-ceph') })
    await expect(none.run(['status'])).rejects.toMatchObject({ code: 'ceph-unavailable', message: expect.stringMatching(/not installed; install ceph-common or pass --skip ceph/) })
  })

  it('a routine snapshot reuses the osd tree while crush_version is unchanged; the pre gate always re-reads it', async () => {
    const log = join(dir, 'calls.log')
    const fake = await bin('cluster', `echo "$3 $4" >> ${log}
case "$3 $4" in
  "status --format") cat ${join(dir, 'status.json')} ;;
  "osd tree") cat ${join(dir, 'tree.json')} ;;
  "osd dump") cat ${join(dir, 'dump.json')} ;;
  "osd ok-to-stop") cat ${join(dir, 'ok.json')} ;;
esac`)
    const probe = new CephProbe({ host: 'node-a' }, new CephCli({ bin: fake }))
    const a = await probe.run()
    const b = await probe.run()
    expect(b.tree).toEqual(a.tree)
    expect(b.hostOsds).toEqual([0])
    const pre = await probe.run({ okToStop: true })
    expect(pre.okToStop).toMatchObject({ ok: true })
    const calls = (await import('node:fs')).readFileSync(log, 'utf8').trim().split('\n').sort()
    expect(calls.filter((c) => c === 'osd tree')).toHaveLength(2) // first routine round + the pre round
    expect(calls.filter((c) => c === 'osd dump')).toHaveLength(3)
    expect(calls.filter((c) => c.startsWith('osd ok-to-stop'))).toHaveLength(1)
  })
})
