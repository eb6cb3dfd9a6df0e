/**
 * The agent bundle's build-time rehearsal (warmCodeCache -> rehearseStart): one real agent
 * started to ready on loopback and stopped, so that the code cache holds the start's code.
 */
import { readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { describe, expect, it } from 'vitest'
import { rehearseStart, undiciRequest } from './shoal-agent.js'

describe("the agent bundle's rehearsal start", () => {
  it('starts an agent to ready on loopback, stops it and leaves no files behind', async () => {
    const rehearsals = () => readdirSync(tmpdir()).filter((f) => f.startsWith('shoal-rehearsal-'))
    const before = rehearsals()
    await rehearseStart()
    expect(rehearsals()).toEqual(before)
  }, 60_000)

  it('the undici warm-up makes one request on loopback and closes what it opened', async () => {
    await expect(undiciRequest()).resolves.toBeUndefined()
  }, 30_000)
})
