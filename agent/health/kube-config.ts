/**
 * Where the Kubernetes API is and how to authenticate: from a kubeconfig file (the one
 * kubectl uses) or from inside a pod (service-account token + CA). Parsed with zod; an
 * unsupported kubeconfig feature (exec plugins, auth-provider) is a clear error.
 */
import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { createRequire } from 'node:module'
import { z } from 'zod'
import { ShoalError } from '../protocol/errors.js'
import { parseWith } from './parse-output.js'

export interface KubeConnection {
  /** https://host:port (or http:// for a local test server). */
  server: string
  ca?: string
  cert?: string
  key?: string
  token?: string
  insecureSkipTlsVerify?: boolean
}

const Kubeconfig = z.object({
  'current-context': z.string().optional(),
  clusters: z.array(
    z.object({
      name: z.string(),
      cluster: z.object({
        server: z.string().url(),
        'certificate-authority': z.string().optional(),
        'certificate-authority-data': z.string().optional(),
        'insecure-skip-tls-verify': z.boolean().optional(),
      }),
    }),
  ),
  users: z
    .array(
      z.object({
        name: z.string(),
        user: z
          .object({
            token: z.string().optional(),
            tokenFile: z.string().optional(),
            'client-certificate': z.string().optional(),
            'client-certificate-data': z.string().optional(),
            'client-key': z.string().optional(),
            'client-key-data': z.string().optional(),
            exec: z.unknown().optional(),
            'auth-provider': z.unknown().optional(),
          })
          .nullish(),
      }),
    )
    .default([]),
  contexts: z.array(z.object({ name: z.string(), context: z.object({ cluster: z.string(), user: z.string().optional() }) })),
})

/** Reads a kubeconfig file and resolves the chosen (or current) context. */
export function loadKubeconfig(file: string, context?: string): KubeConnection {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ShoalError('usage', `cannot read kubeconfig ${file}: ${(err as Error).message}`, { cause: err })
  }
  return kubeconfigFromText(text, dirname(resolve(file)), context, file)
}

/**
 * yaml is loaded at the first kubeconfig, not at start: an agent without Kubernetes never
 * needs it (~8 MB RSS). The literal require('yaml') is what lets esbuild inline it into the
 * worker's agent bundle (which has no node_modules for pure-JS packages; a worker whose
 * kubeconfig could not be read crash-looped); unbundled ESM has no require, and takes
 * node_modules through createRequire.
 */
function loadYaml(): typeof import('yaml') {
  return (typeof require === 'function' ? require('yaml') : createRequire(import.meta.url)('yaml')) as typeof import('yaml')
}

export function kubeconfigFromText(text: string, baseDir: string, context?: string, what = 'kubeconfig'): KubeConnection {
  let raw: unknown
  try {
    const { parse: parseYaml } = loadYaml()
    raw = parseYaml(text, { logLevel: 'error' }) // a warning is not printed: what matters comes back as an error
  } catch (err) {
    throw new ShoalError('bad-output', `${what}: not valid YAML: ${(err as Error).message}`)
  }
  const cfg = parseWith(Kubeconfig, raw, what)
  const ctxName = context ?? cfg['current-context']
  if (!ctxName) throw new ShoalError('usage', `${what}: no current-context; pass a context name`)
  const ctx = cfg.contexts.find((c) => c.name === ctxName)
  if (!ctx) throw new ShoalError('usage', `${what}: context "${ctxName}" not found (have: ${cfg.contexts.map((c) => c.name).join(', ') || 'none'})`)
  const cluster = cfg.clusters.find((c) => c.name === ctx.context.cluster)?.cluster
  if (!cluster) throw new ShoalError('usage', `${what}: cluster "${ctx.context.cluster}" of context "${ctxName}" not found`)
  const user = ctx.context.user ? cfg.users.find((u) => u.name === ctx.context.user)?.user ?? {} : {}
  if (user.exec || user['auth-provider'])
    throw new ShoalError('usage', `${what}: user "${ctx.context.user}" uses an exec/auth-provider plugin, which shoal does not run; use a token or client certificate (e.g. a service account)`)
  const file = (p: string) => readFileSync(isAbsolute(p) ? p : resolve(baseDir, p), 'utf8')
  const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8')
  const conn: KubeConnection = { server: cluster.server.replace(/\/+$/, '') }
  if (cluster['certificate-authority-data']) conn.ca = b64(cluster['certificate-authority-data'])
  else if (cluster['certificate-authority']) conn.ca = file(cluster['certificate-authority'])
  if (cluster['insecure-skip-tls-verify']) conn.insecureSkipTlsVerify = true
  if (user.token) conn.token = user.token
  else if (user.tokenFile) conn.token = file(user.tokenFile).trim()
  if (user['client-certificate-data']) conn.cert = b64(user['client-certificate-data'])
  else if (user['client-certificate']) conn.cert = file(user['client-certificate'])
  if (user['client-key-data']) conn.key = b64(user['client-key-data'])
  else if (user['client-key']) conn.key = file(user['client-key'])
  return conn
}

const saDir = '/var/run/secrets/kubernetes.io/serviceaccount'

/** In-cluster config (a pod's service account), or undefined when not running in a pod. */
export function inClusterConfig(env: NodeJS.ProcessEnv = process.env, dir = saDir): KubeConnection | undefined {
  const host = env.KUBERNETES_SERVICE_HOST
  const port = env.KUBERNETES_SERVICE_PORT
  if (!host || !port) return undefined
  try {
    const h = host.includes(':') ? `[${host}]` : host
    return { server: `https://${h}:${port}`, token: readFileSync(`${dir}/token`, 'utf8').trim(), ca: readFileSync(`${dir}/ca.crt`, 'utf8') }
  } catch (err) {
    throw new ShoalError('usage', `in-cluster Kubernetes config: cannot read the service-account token/CA in ${dir}: ${(err as Error).message}`)
  }
}
