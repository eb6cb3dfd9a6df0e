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
})
