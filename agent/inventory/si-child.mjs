// Runs systeminformation in its own process for collect-inventory.ts. Plain JavaScript on
// purpose: it starts without a TypeScript loader, in the dev tree and in a bundled agent.
// systeminformation blocks its event loop (execSync) and spawns ~120 processes; here that
// costs the agent nothing, and the parent can kill this whole process group on a deadline.
// Protocol: one JSON line per call on stdout as soon as it answers:
//   {"fn":"system","ok":true,"data":{...}}  |  {"fn":"system","ok":false,"error":"..."}
// SHOAL_SI_MODULE replaces systeminformation (tests: a module whose call hangs).
const FNS = (process.env.SHOAL_SI_FNS ?? 'osInfo,system,baseboard,chassis,bios,cpu,mem,memLayout,diskLayout,networkInterfaces,graphics').split(',')

const mod = await import(process.env.SHOAL_SI_MODULE || 'systeminformation')
const si = mod.default ?? mod

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

await Promise.all(
  FNS.map(async (fn) => {
    try {
      if (typeof si[fn] !== 'function') throw new Error(`systeminformation has no ${fn}()`)
      emit({ fn, ok: true, data: await si[fn]() })
    } catch (err) {
      emit({ fn, ok: false, error: String(err?.message ?? err).slice(0, 300) })
    }
  }),
)
