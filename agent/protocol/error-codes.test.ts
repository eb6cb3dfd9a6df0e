import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { errorCodeInfo, errorCodes, isErrorCode } from './error-codes.js'
import { GrantRefusal } from './shell-grant.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue
    const p = join(dir, name)
    if (statSync(p).isDirectory()) sources(p, out)
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p)
  }
  return out
}

/** Every place a code is written: the error constructors, the HTTP error writers, the enrollment and assignment refusals. */
const CODE_SITES = [
  /\b(?:ShoalError|HttpError|HttpClientError)\(\s*(?:\d+,\s*)?'([a-z0-9-]+)'/g,
  /\b(?:sendError|reject)\((?:res|socket),\s*\d+,\s*'([a-z0-9-]+)'/g,
  /\brefuse\('([a-z0-9-]+)'/g,
  /\{ status: 40\d, code: '([a-z0-9-]+)'/g,
  /refusedCode: '([a-z0-9-]+)'/g,
  /\bShoalError\([^'`\n]*\? '([a-z0-9-]+)' : '([a-z0-9-]+)'/g,
]

describe('error codes', () => {
  it('every code written in the tree is in the registry', () => {
    const missing: string[] = []
    let seen = 0
    for (const file of sources(root)) {
      if (file.includes(`${join('agent', 'protocol', 'error-codes')}`)) continue
      const text = readFileSync(file, 'utf8')
      for (const re of CODE_SITES) {
        for (const m of text.matchAll(re)) {
          for (const code of m.slice(1).filter(Boolean)) {
            seen++
            if (!isErrorCode(code)) missing.push(`${relative(root, file)}: '${code}'`)
          }
        }
      }
      // The wire's enumerations of codes (join-token refusals) are codes too.
      for (const m of text.matchAll(/TokenRefusal = z\.enum\(\[([^\]]+)\]\)/g)) {
        for (const code of m[1]!.match(/'[a-z0-9-]+'/g) ?? []) if (!isErrorCode(code.slice(1, -1))) missing.push(`${relative(root, file)}: TokenRefusal ${code}`)
      }
    }
    expect(seen).toBeGreaterThan(200) // the scan found the sites (it would pass vacuously otherwise)
    expect(missing).toEqual([])
  })

  it("the shell's grant refusals, which its 403 names as the code, are registered", () => {
    expect(GrantRefusal.options.filter((r) => !isErrorCode(r))).toEqual([])
  })

  it('each code says what it means and what to do; a twin points at a registered code that is no twin itself', () => {
    for (const [code, info] of Object.entries(errorCodes)) {
      expect(info.meaning.length, code).toBeGreaterThan(5)
      expect(info.fix.length, code).toBeGreaterThan(3)
      if ('sameAs' in info) {
        expect(isErrorCode(info.sameAs), `${code} -> ${info.sameAs}`).toBe(true)
        expect('sameAs' in errorCodes[info.sameAs as keyof typeof errorCodes], `${info.sameAs} is itself a twin`).toBe(false)
      }
    }
  })

  it('a twin is read as its twin (exit status, fix); a code this version does not know has no entry', () => {
    expect(errorCodeInfo('peer-unreachable')).toMatchObject({ exit: 3, fix: errorCodes.unreachable.fix })
    expect(errorCodeInfo('usage')?.exit).toBe(2)
    expect(errorCodeInfo('not-a-code')).toBeUndefined()
  })
})
