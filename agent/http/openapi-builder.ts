/**
 * Builds an OpenAPI 3.1 document from route descriptions whose bodies are the zod schemas
 * the servers validate with and answer in (zod 4 `z.toJSONSchema`, JSON Schema 2020-12,
 * which OpenAPI 3.1 uses as is). One builder for the agent's API (agent/api/openapi.ts) and
 * the coordinator's (coordinator/openapi.ts), so the two descriptions cannot drift from the
 * code in different ways: a test lints both and validates live answers against them.
 */
import { z } from 'zod'

export interface RouteResponse {
  description: string
  /** JSON body schema; omit for an empty body. */
  schema?: z.ZodType
  /** Non-JSON body: its media type and a plain JSON Schema. */
  /** A body that is not one JSON value; its schema a zod type (converted when the document is built, not at import) or JSON Schema. */
  raw?: { contentType: string; schema: object | z.ZodType }
}

export interface Route {
  method: 'get' | 'post' | 'head'
  /** OpenAPI path, `{param}` style. */
  path: string
  summary: string
  description?: string
  /** Needs `Authorization: Bearer <admin token>`. */
  admin?: boolean
  params?: Record<string, { in: 'path' | 'query'; description: string; schema?: z.ZodType; required?: boolean }>
  body?: { schema: z.ZodType; description?: string }
  responses: Record<number, RouteResponse>
}

export interface ApiDescription {
  title: string
  version: string
  description: string
  server: string
  routes: Route[]
}

/** A zod schema as an OpenAPI 3.1 Schema Object (JSON Schema 2020-12 without `$schema`). */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'output'): Record<string, unknown> {
  const s = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any', reused: 'inline', cycles: 'ref' }) as Record<string, unknown>
  delete s.$schema
  return s
}

export function buildOpenApi(d: ApiDescription): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const r of d.routes) {
    const responses: Record<string, unknown> = {}
    for (const [status, resp] of Object.entries(r.responses)) {
      const content = resp.schema
        ? { 'application/json': { schema: jsonSchema(resp.schema) } }
        : resp.raw
          ? { [resp.raw.contentType]: { schema: resp.raw.schema instanceof z.ZodType ? jsonSchema(resp.raw.schema) : resp.raw.schema } }
          : undefined
      responses[status] = { description: resp.description, ...(content ? { content } : {}) }
    }
    const parameters = Object.entries(r.params ?? {}).map(([name, p]) => ({
      name,
      in: p.in,
      description: p.description,
      required: p.in === 'path' ? true : (p.required ?? false),
      schema: p.schema ? jsonSchema(p.schema, 'input') : { type: 'string' },
    }))
    ;(paths[r.path] ??= {})[r.method] = {
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      operationId: `${r.method}${r.path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, ...(r.body.description ? { description: r.body.description } : {}), content: { 'application/json': { schema: jsonSchema(r.body.schema, 'input') } } } } : {}),
      security: r.admin ? [{ adminToken: [] }] : [],
      responses,
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: d.title, version: d.version, description: d.description },
    servers: [{ url: d.server }],
    paths,
    components: { securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'The admin token (<dataDir>/admin-token on the coordinator)' } } },
  }
}

/** A response with a non-JSON body (a script, a page, an exposition) of `contentType`. */
export function textResponse(description: string, contentType = 'text/plain'): RouteResponse {
  return { description, raw: { contentType, schema: { type: 'string' } } }
}

/** The document of `d`, built on first use and kept (it is served on every GET /openapi.json). */
export function cachedOpenApi(d: () => ApiDescription): () => Record<string, unknown> {
  let doc: Record<string, unknown> | undefined
  return () => (doc ??= buildOpenApi(d()))
}

/** The response schema of `method path` for `status` in a built document (tests, validators). */
export function responseSchema(doc: Record<string, unknown>, method: string, path: string, status: number, contentType = 'application/json'): object | undefined {
  const op = (doc.paths as Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>>)[path]?.[method]
  return op?.responses[String(status)]?.content?.[contentType]?.schema
}
