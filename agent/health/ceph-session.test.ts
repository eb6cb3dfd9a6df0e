import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CephSession, toCephCommand } from './ceph-session.js'

describe('CephSession', () => {
  let dir = ''
  let echo = ''
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-cephsession-'))
    echo = join(dir, 'ceph')
    await writeFile(echo, '#!/bin/sh\necho "cli: $*"\n')
    await chmod(echo, 0o755)
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('maps the CLI words shoal uses to librados JSON commands (mon or mgr)', () => {
    expect(toCephCommand(['status'])).toEqual({ target: 'mon', cmd: { prefix: 'status', format: 'json' } })
    expect(toCephCommand(['osd', 'ok-to-stop', '0', '3'])).toEqual({ target: 'mgr', cmd: { prefix: 'osd ok-to-stop', ids: ['0', '3'], format: 'json' } })
    expect(toCephCommand(['osd', 'set-group', 'noout', 'worker-1'])).toEqual({ target: 'mon', cmd: { prefix: 'osd set-group', flags: 'noout', who: ['worker-1'], format: 'json' } })
    expect(toCephCommand(['health', 'detail'])).toEqual({ target: 'mon', cmd: { prefix: 'health', detail: 'detail', format: 'json' } })
    expect(toCephCommand(['osd', 'ok-to-stop', 'osd.0'])).toBeUndefined() // not a plain id: left to the CLI
    expect(toCephCommand(['pg', 'dump'])).toBeUndefined()
  })

  it('falls back to the CLI when the helper cannot run here (no python3 / no rados module)', async () => {
    for (const python of ['/bin/false', join(dir, 'no-such-python')]) {
      const s = new CephSession({ python, bin: echo, timeoutMs: 5000 })
      const r = await s.run(['status'])
      expect(r.stdout.trim()).toBe('cli: --connect-timeout 5 status --format json')
      expect(s.fallbackReason).toBeTruthy()
      s.close()
    }
  })
})
