/**
 * Which way the arrows run between the top-level folders, checked on the real import graph
 * (every relative import and dynamic import of every .ts file, test files included):
 * - agent/protocol is the shared core: it reaches nothing outside itself;
 * - agent/ never reaches coordinator/ or cli/, not even through another folder, so the
 *   worker's bundles carry no coordinator code;
 * - layers/ and initramfs-hooks/ do not import coordinator/ (layers/ bundles the CLI, whose
 *   `shoal coordinator` commands are the coordinator's entry; that is the only way in);
 * - coordinator/ does not import cli/ (the CLI drives the coordinator, not the reverse);
 * - initramfs-hooks/ does not import layers/ (layers/ builds on it, one way);
 * - bench/ does not import test/support/ (what benchmarks and tests share, such as a real
 *   Ceph cluster on loopback or the system Chromium, lives in harness/).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const TOP = ['agent', 'bench', 'bin', 'cli', 'coordinator', 'harness', 'initramfs-hooks', 'layers', 'sim', 'test']

function sources(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...sources(p))
    else if (/\.(ts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p)
  }
  return out
}

const SPEC = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"`])(\.{1,2}\/[^'"`$]+)\1/g

/** Repository-relative file -> the repository-relative files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const file of TOP.flatMap(sources)) {
    const src = readFileSync(join(root, file), 'utf8')
    const deps: string[] = []
    for (const m of src.matchAll(SPEC)) {
      const target = relative(root, resolve(root, dirname(file), m[2]!)).replace(/\.js$/, '.ts')
      deps.push(target)
    }
    graph.set(file, deps)
  }
  return graph
}

const graph = importGraph()
const under = (file: string, folder: string) => file === folder || file.startsWith(`${folder}/`)

/** Direct imports from files under `from` into files under `to`, as "file -> target". */
function direct(from: string, to: string): string[] {
  return [...graph].flatMap(([f, deps]) => (under(f, from) ? deps.filter((d) => under(d, to)).map((d) => `${f} -> ${d}`) : []))
}

/** Import chains that start under `from` and reach a file under `to`, through any folder. */
function reach(from: string, to: string): string[] {
  const chains: string[] = []
  for (const start of graph.keys()) {
    if (!under(start, from)) continue
    const seen = new Set([start])
    const queue: string[][] = [[start]]
    while (queue.length) {
      const path = queue.shift()!
      for (const d of graph.get(path.at(-1)!) ?? []) {
        if (seen.has(d)) continue
        seen.add(d)
        if (under(d, to)) {
          chains.push([...path, d].join(' -> '))
          continue
        }
        queue.push([...path, d])
      }
    }
  }
  return chains
}

describe('import graph', () => {
  it('sees the tree (a broken walk would pass everything)', () => {
    expect(graph.size).toBeGreaterThan(300)
    expect(direct('cli', 'agent').length).toBeGreaterThan(10)
    expect(direct('coordinator', 'agent/protocol').length).toBeGreaterThan(10)
  })

  it('agent/protocol reaches nothing outside itself', () => {
    expect([...graph].flatMap(([f, deps]) => (under(f, 'agent/protocol') ? deps.filter((d) => !under(d, 'agent/protocol')).map((d) => `${f} -> ${d}`) : []))).toEqual([])
  })

  it('agent/ never reaches coordinator/ or cli/, even through another folder', () => {
    expect(reach('agent', 'coordinator')).toEqual([])
    expect(reach('agent', 'cli')).toEqual([])
  })

  it('layers/ and initramfs-hooks/ do not import coordinator/', () => {
    expect(direct('layers', 'coordinator')).toEqual([])
    expect(direct('initramfs-hooks', 'coordinator')).toEqual([])
  })

  it('coordinator/ does not import cli/', () => {
    expect(direct('coordinator', 'cli')).toEqual([])
  })

  it('no folder cycle between layers/ and initramfs-hooks/', () => {
    expect(direct('initramfs-hooks', 'layers')).toEqual([])
  })

  it('bench/ does not import test/support/', () => {
    expect(direct('bench', 'test/support')).toEqual([])
  })
})
