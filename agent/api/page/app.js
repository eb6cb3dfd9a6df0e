// The shoal cluster page: plain DOM, no build step, no network beyond the server that
// served it. On an agent it reads /v1/*; on the coordinator the same routes under
// /v1/mesh/* (its mesh peer's view) plus the current wave (/v1/mesh/wave). Read-only.
// Live: one /v1/watch stream (NDJSON) carries joins, suspicions, deaths and record
// changes; the wave is polled every 2 s.

const $ = (sel) => document.querySelector(sel)
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') el.className = v
    else if (k === 'style') el.style.cssText = v
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const kid of kids.flat()) if (kid !== undefined && kid !== null && kid !== false) el.append(kid instanceof Node ? kid : String(kid))
  return el
}
const ago = (ms) => (ms === null || ms === undefined ? '-' : ms < 1000 ? 'now' : ms < 60000 ? Math.round(ms / 1000) + 's ago' : ms < 3600000 ? Math.round(ms / 60000) + 'm ago' : Math.round(ms / 3600000) + 'h ago')
const clock = (t) => new Date(t).toISOString().slice(11, 19)

const state = {
  base: '/v1',
  role: 'agent',
  self: null,
  nodes: new Map(), // id -> NodeSummary (+ receivedAt)
  sort: { key: 'id', dir: 1 },
  selected: null,
  history: new Map(), // id -> [{ at, kind }] for the timeline
  wave: null, // { id, target, state, reason, slots: [{slot, holder}], nodes: Map id -> {state, reason, image} }
  waveStart: null,
  live: false,
}

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' })
  if (!res.ok) throw new Error(path + ': HTTP ' + res.status)
  return res.json()
}

// --- which server are we on ------------------------------------------------------------
async function detect() {
  try {
    state.self = await getJson('/v1/self')
    state.base = '/v1'
    state.role = 'agent'
  } catch {
    state.self = await getJson('/v1/mesh/self')
    state.base = '/v1/mesh'
    state.role = 'coordinator'
  }
  const s = state.self
  $('#where').textContent = (state.role === 'coordinator' ? 'coordinator' : 'agent ' + s.id) + (s.cluster ? ' · cluster ' + s.cluster : '')
  document.title = 'shoal · ' + (s.cluster || s.id)
}

// --- the node table ----------------------------------------------------------------------
const healthText = (n) => (n.health ? n.health.status + (n.health.conditions ? ' (' + n.health.conditions + ')' : '') : '-')
const sortValue = (n, key) => (key === 'health' ? (n.health ? n.health.status : '') : key === 'age' ? n.lastUpdateAgeMs ?? Infinity : n[key] ?? '')

function renderNodes() {
  const text = $('#filter').value.trim().toLowerCase()
  const status = $('#status-filter').value
  const rows = [...state.nodes.values()]
    .filter((n) => !status || n.status === status)
    .filter((n) => !text || [n.id, n.status, n.phase, n.image, n.domain, n.health && n.health.status].some((v) => v && String(v).toLowerCase().includes(text)))
    .sort((a, b) => {
      const x = sortValue(a, state.sort.key)
      const y = sortValue(b, state.sort.key)
      return (x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : 1) * state.sort.dir
    })
  const now = Date.now()
  $('#nodes tbody').replaceChildren(
    ...rows.map((n) =>
      h(
        'tr',
        { 'data-node': n.id, 'data-status': n.status, class: n.id === state.selected ? 'selected' : '', onclick: () => select(n.id) },
        h('td', {}, n.id),
        h('td', {}, h('span', { class: 'st ' + n.status }, n.status)),
        h('td', {}, n.phase || '-'),
        h('td', {}, n.image || '-'),
        h('td', {}, n.domain || '-'),
        h('td', {}, h('span', { class: 'h ' + (n.health ? n.health.status : '') }, healthText(n))),
        h('td', {}, ago(n.lastUpdateAgeMs === null ? null : n.lastUpdateAgeMs + (now - n.receivedAt))),
      ),
    ),
  )
  for (const th of document.querySelectorAll('th[data-key]')) th.className = th.dataset.key === state.sort.key ? (state.sort.dir > 0 ? 'asc' : 'desc') : ''
  const c = { alive: 0, suspect: 0, dead: 0 }
  for (const n of state.nodes.values()) c[n.status]++
  $('#counts').textContent = state.nodes.size + ' nodes · ' + c.alive + ' alive · ' + c.suspect + ' suspect · ' + c.dead + ' dead'
}

function event(kind, text, at) {
  const list = $('#events')
  list.prepend(h('li', { class: kind }, clock(at || Date.now()) + '  ' + text))
  while (list.children.length > 100) list.lastChild.remove()
}

// --- node detail ---------------------------------------------------------------------------
async function select(id) {
  state.selected = id
  renderNodes()
  const box = $('#detail')
  box.replaceChildren(h('h2', {}, 'node ' + id), h('p', { class: 'muted' }, 'loading…'))
  let n, shells
  try {
    ;[n, shells] = await Promise.all([getJson(state.base + '/nodes/' + encodeURIComponent(id)), getJson(state.base + '/shells?node=' + encodeURIComponent(id)).catch(() => ({ sessions: [] }))])
  } catch (err) {
    box.replaceChildren(h('h2', {}, 'node ' + id), h('p', { class: 'muted' }, String(err.message)))
    return
  }
  if (state.selected !== id) return
  const r = n.record || {}
  const inv = r.inv || {}
  const health = r.health || { conditions: [] }
  const kv = (pairs) => h('dl', {}, ...pairs.filter(([, v]) => v !== undefined && v !== null && v !== '').flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]))
  const gib = (b) => (b ? (b / 2 ** 30).toFixed(1) + ' GiB' : undefined)
  box.replaceChildren(
    h('h2', {}, 'node ' + id),
    kv([
      ['status', n.status + ' (' + ago(n.statusAgeMs) + ')'],
      ['phase', n.phase],
      ['image', n.image],
      ['failure domain', n.domain],
      ['agent API', n.api],
      ['incarnation', n.incarnation],
    ]),
    h('h3', {}, 'inventory'),
    kv([
      ['machine', [inv.vendor, inv.product].filter(Boolean).join(' ')],
      ['cpu', inv.cpuModel ? inv.cpuModel + (inv.cpuCores ? ' × ' + inv.cpuCores + ' cores' : '') : undefined],
      ['memory', gib(inv.memoryBytes)],
      ['disks', inv.disks !== undefined ? inv.disks + (inv.diskBytes ? ' (' + gib(inv.diskBytes) + ')' : '') : undefined],
      ['nics', inv.nics],
      ['gpus', inv.gpus],
    ]),
    h('h3', {}, 'health: ', h('span', { class: 'h ' + health.status }, health.status || 'unknown')),
    kv([
      ['kubelet ready', health.kubeletReady],
      ['OSDs up', health.osdsTotal !== undefined ? (health.osdsUp ?? 0) + '/' + health.osdsTotal : undefined],
      ['gates', health.gates ? 'pre ' + (health.gates.pre ? 'pass' : 'fail') + ', post ' + (health.gates.post ? 'pass' : 'fail') + ' (' + ago(Date.now() - health.gates.at) + ')' : undefined],
    ]),
    health.conditions.length
      ? h('table', { class: 'conditions' }, h('tr', {}, h('th', {}, 'condition'), h('th', {}, 'severity'), h('th', {}, 'why'), h('th', {}, 'source'), h('th', {}, 'since')), ...health.conditions.map((c) => h('tr', {}, h('td', {}, c.id), h('td', { class: 'sev-' + c.severity }, c.severity), h('td', {}, c.message), h('td', {}, c.source), h('td', {}, ago(Date.now() - c.since)))))
      : h('p', { class: 'muted' }, 'no health conditions'),
    h('h3', {}, 'recent shell sessions'),
    shells.sessions.length
      ? h('table', { class: 'shells' }, h('tr', {}, h('th', {}, 'started'), h('th', {}, 'operator'), h('th', {}, 'command'), h('th', {}, 'duration'), h('th', {}, 'exit'), h('th', {}, 'bytes in/out')), ...shells.sessions.slice(0, 20).map((s) => h('tr', {}, h('td', {}, new Date(s.startedAt).toLocaleString()), h('td', {}, s.operator), h('td', {}, s.command ? s.command.join(' ') : '(interactive)'), h('td', {}, (s.durationMs / 1000).toFixed(1) + ' s'), h('td', {}, s.exitCode === null ? s.end : s.exitCode), h('td', {}, s.bytesIn + '/' + s.bytesOut))))
      : h('p', { class: 'muted' }, 'none known'),
  )
}

// --- the watch stream ----------------------------------------------------------------------
function setLive(on) {
  state.live = on
  const el = $('#live')
  el.className = 'live ' + (on ? 'on' : 'off')
  el.textContent = on ? 'live' : 'reconnecting…'
}

function note(id, kind, at) {
  const list = state.history.get(id) || []
  if (!list.length || list[list.length - 1].kind !== kind) list.push({ at, kind })
  if (list.length > 200) list.shift()
  state.history.set(id, list)
}

/**
 * A reboot shorter than the 2 s poll (a fast machine, the demo's process restarts) is never
 * seen as a state: the coordinator's assignment of the target image, which comes right
 * before it, marks where it began, and the next state seen marks its end.
 */
function rebootFromAssignment(id, assignedAt) {
  const list = state.history.get(id) || []
  if (list.some((s) => (s.kind === 'rebooting' || s.kind === 'down') && s.at >= assignedAt)) return
  let i = list.length
  while (i > 0 && list[i - 1].at > assignedAt) i--
  list.splice(i, 0, { at: assignedAt, kind: 'rebooting' })
  state.history.set(id, list)
}

/** What the timeline draws for a node right now, from the mesh: its phase, or down when not alive. */
function meshKind(n) {
  if (!n) return 'gone'
  if (n.status !== 'alive') return 'down'
  return n.phase || 'unknown'
}

function upsert(node, at) {
  if (!node) return
  node.receivedAt = Date.now()
  state.nodes.set(node.id, node)
  if (state.role === 'agent') note(node.id, meshKind(node), at)
}

async function watch() {
  for (;;) {
    try {
      const res = await fetch(state.base + '/watch', { cache: 'no-store' })
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status)
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let buf = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buf += value
        let nl
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl)
          buf = buf.slice(nl + 1)
          if (line.trim()) onLine(JSON.parse(line))
        }
      }
    } catch (err) {
      // fall through: reconnect
    }
    setLive(false)
    await new Promise((r) => setTimeout(r, 2000))
  }
}

function onLine(l) {
  const at = l.at ? Date.parse(l.at) : Date.now()
  switch (l.type) {
    case 'snapshot':
      setLive(true)
      state.nodes.clear()
      for (const n of l.nodes) upsert(n, at)
      event('info', 'connected to ' + l.answeredBy + ': ' + l.nodes.length + ' nodes', at)
      break
    case 'member':
      if (l.node) upsert(l.node, at)
      else if (state.nodes.has(l.id)) state.nodes.get(l.id).status = l.status
      if (l.previous === null) event('join', 'JOINED   ' + l.id, at)
      else if (l.status === 'dead') event('dead', 'DEAD     ' + l.id + ' (was ' + l.previous + ')', at)
      else if (l.status === 'suspect') event('suspect', 'SUSPECT  ' + l.id, at)
      else event('alive', 'ALIVE    ' + l.id + ' (was ' + l.previous + ')', at)
      break
    case 'record': {
      const before = state.nodes.get(l.id)
      if (l.node) upsert(l.node, at)
      if (before && l.node && (before.phase !== l.node.phase || before.image !== l.node.image)) event('info', 'CHANGED  ' + l.id + ': ' + (before.phase !== l.node.phase ? before.phase + ' → ' + l.node.phase : '') + (before.image !== l.node.image ? ' image ' + before.image + ' → ' + l.node.image : ''), at)
      break
    }
    default:
      return
  }
  renderNodes()
  if (state.selected === l.id && l.type !== 'snapshot') void select(l.id)
}

// --- the wave --------------------------------------------------------------------------------
const WAVE_KINDS = ['holding', 'draining', 'rebooting', 'down', 'verifying', 'done', 'failed']

/** Finds a "why" text in an object whatever the agent version calls it. */
const whyOf = (o) => (o && (o.reason || o.why || o.waiting || o.blocked || o.blocker)) || ''

async function pollWave() {
  try {
    if (state.role === 'coordinator') {
      const w = await getJson('/v1/mesh/wave').catch(() => null)
      if (!w) return setWave(null)
      const nodes = new Map()
      for (const n of w.nodes) {
        nodes.set(n.node, { state: n.state, reason: n.reason || '', image: n.image, slot: n.slot })
        const mesh = state.nodes.get(n.node)
        const kind = n.state === 'rebooting' && mesh && mesh.status !== 'alive' ? 'down' : n.state
        if (n.assignedAt && (n.state === 'verifying' || n.state === 'done')) rebootFromAssignment(n.node, n.assignedAt)
        note(n.node, kind, n.state === 'waiting' ? Math.max(n.since, w.createdAt) : n.since)
      }
      const slots = []
      for (const n of w.nodes) if (n.slot !== undefined && ['holding', 'draining', 'rebooting', 'verifying'].includes(n.state)) slots.push({ slot: n.slot, holder: n.node })
      setWave({ id: w.id, target: w.target, previous: w.previous, state: w.state, reason: w.reason || '', held: w.held, max: w.maxUnavailable, slots, nodes, createdAt: w.createdAt, progress: w.progress })
    } else {
      const self = await getJson('/v1/self')
      const wv = self.wave
      if (!wv || !wv.wave) return setWave(null)
      const nodes = new Map()
      for (const m of wv.members || []) nodes.set(m.id, { state: m.image === wv.target ? 'done' : m.available ? 'waiting' : 'down', reason: whyOf(m), image: m.image })
      if (self.id && nodes.has(self.id) && wv.reason) nodes.get(self.id).reason = wv.reason
      const slots = (wv.slots || []).filter((s) => s.holder).map((s) => ({ slot: s.slot, holder: s.holder }))
      const held = wv.held || {}
      setWave({ id: wv.wave, target: wv.target, state: held.halted ? 'halted' : held.held ? 'held' : 'running', reason: held.reason || '', held: !!held.held, max: (wv.slots || []).length, slots, nodes, createdAt: null })
    }
  } catch {
    // the next poll tries again
  }
}

function setWave(w) {
  if (w && (!state.wave || state.wave.id !== w.id)) {
    state.waveStart = w.createdAt || Date.now()
    if (state.role === 'coordinator') state.history.clear()
  }
  state.wave = w
  renderWave()
}

function renderWave() {
  const w = state.wave
  const box = $('#wave')
  box.hidden = !w
  if (!w) return
  $('#wave-title').textContent = 'wave ' + w.id + ': ' + (w.previous ? w.previous + ' → ' : '→ ') + w.target
  const holders = w.slots.length ? w.slots.map((s) => 'slot ' + s.slot + ': ' + s.holder).join(', ') : 'none'
  const halted = w.state === 'halted' || w.state === 'aborted'
  $('#wave-summary').replaceChildren(
    h('span', { class: halted ? 'halt' : '' }, w.state),
    ' · slots in use ' + w.slots.length + '/' + w.max + ' (' + holders + ')',
    w.progress ? ' · ' + w.progress.done + '/' + w.progress.total + ' done' : '',
    w.reason ? h('div', { class: halted ? 'halt' : 'muted', 'data-wave-reason': '' }, (halted ? 'halted: ' : w.state === 'done' ? '' : 'why: ') + w.reason) : '',
  )
  const t0 = state.waveStart || Date.now()
  const now = Date.now()
  const span = Math.max(10000, now - t0)
  const pct = (t) => (100 * (Math.min(now, Math.max(t0, t)) - t0)) / span
  const ids = [...new Set([...w.nodes.keys(), ...(state.role === 'agent' ? state.nodes.keys() : [])])].filter((id) => id !== 'coordinator').sort()
  const rows = ids.map((id) => {
    const hist = state.history.get(id) || []
    const bars = []
    for (let i = 0; i < hist.length; i++) {
      const seg = hist[i]
      if (!WAVE_KINDS.includes(seg.kind)) continue
      const end = i + 1 < hist.length ? hist[i + 1].at : now
      if (end < t0) continue
      const cls = seg.kind === 'down' ? 'rebooting down' : seg.kind
      const left = pct(seg.at)
      const width = seg.kind === 'done' ? Math.max(0.5, 100 - left) : Math.max(0.5, pct(end) - left)
      bars.push(h('div', { class: 'bar ' + cls, style: 'left:' + left + '%;width:' + width + '%', title: seg.kind + ' from ' + clock(seg.at) + (i + 1 < hist.length ? ' to ' + clock(end) : '') }))
    }
    const n = w.nodes.get(id) || {}
    const why = n.state === 'waiting' || n.state === 'failed' || n.reason ? n.reason : ''
    return h('div', { class: 'trow', 'data-node': id, 'data-state': n.state || '' }, h('span', { class: 'name' }, id), h('div', { class: 'track' }, ...bars), h('span', { class: 'why', title: why }, (n.state || '') + (why ? ': ' + why : '')))
  })
  $('#timeline').replaceChildren(h('div', { class: 'trow axisrow' }, h('span', {}), h('div', { class: 'axis' }, h('span', {}, clock(t0)), h('span', {}, clock(t0 + span / 2)), h('span', {}, clock(now))), h('span', {})), ...rows)
}

// --- start ------------------------------------------------------------------------------------
for (const th of document.querySelectorAll('th[data-key]')) {
  th.addEventListener('click', () => {
    const key = th.dataset.key
    state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : 1 }
    renderNodes()
  })
}
$('#filter').addEventListener('input', renderNodes)
$('#status-filter').addEventListener('change', renderNodes)

async function start() {
  for (;;) {
    try {
      await detect()
      break
    } catch {
      setLive(false)
      await new Promise((r) => setTimeout(r, 2000))
    }
  }
  void watch()
  void pollWave()
  setInterval(pollWave, 2000)
  // Ages and the timeline's "now" move on their own.
  setInterval(() => {
    renderNodes()
    if (state.wave) renderWave()
  }, 1000)
}
void start()
