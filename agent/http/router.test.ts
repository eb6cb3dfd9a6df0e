import { describe, expect, it } from 'vitest'
import { HttpError } from './http-error.js'
import { Router } from './router.js'

function router(calls: string[]) {
  return new Router<string>((method, path) => new HttpError(404, 'not-found', `no route ${method} ${path}`))
    .on(['GET'], '/v1/nodes', () => void calls.push('list'))
    .on(['GET'], '/v1/nodes/:id', (_c, p) => void calls.push(`node ${p.id}`))
    .on(['POST'], '/v1/admin/x', () => void calls.push('x'), (who) => {
      if (who !== 'admin') throw new HttpError(401, 'unauthorized', 'token please')
    })
    .on(['GET', 'HEAD'], '/images/*', (_c, p) => void calls.push(`image ${p['*']}`))
}

describe('Router', () => {
  it('runs the first route whose pattern fits, with raw parameters', async () => {
    const calls: string[] = []
    const r = router(calls)
    await r.dispatch('', 'GET', '/v1/nodes')
    await r.dispatch('', 'GET', '/v1/nodes/a%2Fb')
    await r.dispatch('', 'HEAD', '/images/v1/kernel')
    await r.dispatch('', 'GET', '/images/')
    expect(calls).toEqual(['list', 'node a%2Fb', 'image v1/kernel', 'image '])
  })

  it('answers an unknown path with the server-worded 404 and a wrong method with a 405 naming the right ones', async () => {
    const r = router([])
    await expect(r.dispatch('', 'GET', '/v1/nodes/a/b')).rejects.toMatchObject({ status: 404, code: 'not-found', message: 'no route GET /v1/nodes/a/b' })
    await expect(r.dispatch('', 'GET', '/images')).rejects.toMatchObject({ status: 404 })
    await expect(r.dispatch('', 'DELETE', '/images/v1/kernel')).rejects.toMatchObject({ status: 405, code: 'method-not-allowed', message: 'use GET or HEAD' })
  })

  it('runs the guard before the method check: an unauthorized caller learns nothing about methods', async () => {
    const calls: string[] = []
    const r = router(calls)
    await expect(r.dispatch('anyone', 'GET', '/v1/admin/x')).rejects.toMatchObject({ status: 401 })
    await expect(r.dispatch('admin', 'GET', '/v1/admin/x')).rejects.toMatchObject({ status: 405 })
    await r.dispatch('admin', 'POST', '/v1/admin/x')
    expect(calls).toEqual(['x'])
  })

  it('refuses a pattern with * anywhere but the end', () => {
    expect(() => new Router<string>(() => new HttpError(404, 'not-found', '')).on('*', '/a/*/b', () => undefined)).toThrow(/only at the end/)
  })
})
