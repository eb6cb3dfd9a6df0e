/**
 * The cluster page and the shell-session listing, as extra GET routes of the agent API
 * (the coordinator serves the same page): `/` and `/page/*` are static files from
 * agent/api/page (no build step, nothing fetched from the network; the page then reads
 * /v1/cluster, /v1/watch, /v1/nodes/{id}, /v1/shells and, on the coordinator, its waves),
 * `/v1/shells[?node=ID]` lists recent shell sessions the agent heard of.
 */
import { existsSync, readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ShellAuditLog } from './shell-audit-log.js'

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
}

/**
 * Where the page's files are: beside this module under tsx; a bundled agent (esbuild, the
 * local demo and tests) lives elsewhere, so also SHOAL_PAGE_DIR and ./agent/api/page.
 */
export function pageDir(): string | undefined {
  const candidates = [fileURLToPath(new URL('./page/', import.meta.url)), process.env.SHOAL_PAGE_DIR, resolve('agent/api/page')]
  return candidates.find((d): d is string => !!d && existsSync(join(d, 'index.html')))
}

let cache: Map<string, Buffer> | undefined
function files(): Map<string, Buffer> {
  if (cache) return cache
  cache = new Map()
  const dir = pageDir()
  if (dir) for (const name of Object.keys(TYPES)) if (existsSync(join(dir, name))) cache.set(name, readFileSync(join(dir, name)))
  return cache
}

/** Serves one page file; false when `path` is not one. */
export function servePage(res: ServerResponse, path: string): boolean {
  const name = path === '/' || path === '/index.html' ? 'index.html' : path.startsWith('/page/') ? path.slice('/page/'.length) : undefined
  if (name === undefined || !(name in TYPES)) return false
  const body = files().get(name)
  if (!body) {
    const text = JSON.stringify({ error: { code: 'not-found', message: `the page file ${name} is not installed with this agent (set SHOAL_PAGE_DIR to agent/api/page)` } })
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' })
    res.end(text)
    return true
  }
  res.writeHead(200, { 'content-type': TYPES[name]!, 'content-length': body.length, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' })
  res.end(body)
  return true
}

export function pageRoutes(deps: { shells: ShellAuditLog }) {
  return (_req: IncomingMessage, res: ServerResponse, url: URL): boolean => {
    if (servePage(res, url.pathname)) return true
    if (url.pathname === '/v1/shells') {
      const node = url.searchParams.get('node') ?? undefined
      const text = JSON.stringify({ sessions: deps.shells.list(node) })
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
      res.end(text)
      return true
    }
    return false
  }
}
