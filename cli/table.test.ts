import { describe, expect, it } from 'vitest'
import { table as agentTable } from '../agent/api/render.js'
import { table } from './args.js'

describe('the CLI tables', () => {
  it('are rendered by the one table renderer (agent/api/render.ts), not a copy', () => {
    expect(table).toBe(agentTable)
  })
})
