import { describe, expect, it } from 'vitest'
import { table } from './render.js'

describe('table: the one renderer of every CLI table', () => {
  it('aligns columns two spaces apart, leaves the last column unpadded and shows empty cells as -', () => {
    expect(table(['ID', 'STATUS', 'WHY'], [['node-1', 'alive', 'ok'], ['n2', undefined, ''], ['n3', 0, null]])).toBe(
      ['ID      STATUS  WHY', 'node-1  alive   ok', 'n2      -       -', 'n3      0       -'].join('\n'),
    )
  })
})
