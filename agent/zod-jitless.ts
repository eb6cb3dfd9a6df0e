/**
 * zod without its JIT, for the agent process. Imported first by the agent's entry points
 * (agent/bin.ts, layers/entries/shoal-agent.ts), before any module builds a schema: zod
 * decides when an object schema is built whether its first parse compiles a validator with
 * `new Function`, so a z.config() after the modules have loaded changed nothing for the
 * schemas they built at their top level (the config, records, messages: all of them).
 *
 * Why: a compiled validator is never in the code cache, and under the agent's --no-opt it is
 * no faster. Measured: the config's parse 8-11 -> 3 ms, a record's first 3-6 -> 1 ms, 55
 * records 3.7-3.9 -> 2.3-3.1 ms. Frames mostly skip zod (protocol/message-check.ts).
 */
import { z } from 'zod'

z.config({ jitless: true })
