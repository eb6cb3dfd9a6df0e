/**
 * The one router of shoal's HTTP servers (the agent's API, the coordinator and its admin and
 * wave routes). Patterns are literal segments, `:name` (one segment, raw: the handler
 * decodes) and a trailing `*` (everything past its slash, possibly empty). The first registered route whose
 * pattern fits wins, so a literal route goes before a `:param` one of the same shape.
 *
 * Order of refusals, kept from the hand-written routing it replaced: an unknown path is the
 * server's 404; a known one runs its route's `guard` (an admin token check: 401 before
 * anything else is told), then a method outside the route's list is a 405 naming the ones it takes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { HttpError } from './http-error.js'

/** One request as a route sees it. */
export interface Exchange {
  req: IncomingMessage
  res: ServerResponse
  url: URL
  method: string
}

export type Params = Readonly<Record<string, string>>
export type Methods = readonly string[] | '*'

export interface Route<C> {
  methods: Methods
  pattern: string
  /** Runs before the method check (an authorization that must answer first). */
  guard?: (ctx: C) => void
  handle: (ctx: C, params: Params) => void | Promise<void>
}

interface Compiled<C> extends Route<C> {
  segments: string[]
  rest: boolean
}

export class Router<C> {
  private readonly routes: Compiled<C>[] = []

  /** `notFound` words the 404 for a path no route fits. */
  constructor(private readonly notFound: (method: string, path: string) => HttpError) {}

  on(methods: Methods, pattern: string, handle: Route<C>['handle'], guard?: Route<C>['guard']): this {
    if (!pattern.startsWith('/')) throw new Error(`route pattern ${pattern} must start with /`)
    const segments = pattern.slice(1).split('/')
    const rest = segments[segments.length - 1] === '*'
    if (rest) segments.pop()
    if (segments.includes('*')) throw new Error(`route pattern ${pattern}: * only at the end`)
    this.routes.push({ methods, pattern, handle, ...(guard ? { guard } : {}), segments, rest })
    return this
  }

  /** The first route whose pattern fits `path`, with its parameters. */
  match(path: string): { route: Route<C>; params: Params } | undefined {
    const parts = path.slice(1).split('/')
    for (const r of this.routes) {
      const params = fit(r, parts)
      if (params) return { route: r, params }
    }
    return undefined
  }

  /** True when some route fits `path` (whatever the method). */
  has(path: string): boolean {
    return this.match(path) !== undefined
  }

  /** Runs the route for `method path`; throws the 404 or 405 HttpError when there is none. */
  async dispatch(ctx: C, method: string, path: string): Promise<void> {
    const m = this.match(path)
    if (!m) throw this.notFound(method, path)
    m.route.guard?.(ctx)
    allow(method, m.route.methods)
    await m.route.handle(ctx, m.params)
  }
}

/** 405 unless `method` is one of `methods`. */
export function allow(method: string, methods: Methods): void {
  if (methods !== '*' && !methods.includes(method)) throw new HttpError(405, 'method-not-allowed', `use ${methods.join(' or ')}`)
}

function fit<C>(r: Compiled<C>, parts: string[]): Record<string, string> | undefined {
  if (r.rest ? parts.length <= r.segments.length : parts.length !== r.segments.length) return undefined
  const params: Record<string, string> = {}
  for (let i = 0; i < r.segments.length; i++) {
    const s = r.segments[i]!
    if (s.startsWith(':')) params[s.slice(1)] = parts[i]!
    else if (s !== parts[i]) return undefined
  }
  if (r.rest) params['*'] = parts.slice(r.segments.length).join('/')
  return params
}
