// Task board: renders api/state, follows api/events, sends api/actions.
// Every piece of data goes into the DOM through textContent / setAttribute, never as HTML.
import dagre from './vendor/dagre/dagre.esm.js';

const STATUSES = ['pending', 'in_progress', 'blocked', 'completed', 'failed', 'cancelled'];
const NAMES = { pending: 'pending', in_progress: 'in progress', blocked: 'blocked', completed: 'completed', failed: 'failed', cancelled: 'cancelled' };
const OPEN = new Set(['pending', 'in_progress', 'blocked']);
const SVGNS = 'http://www.w3.org/2000/svg';
const NW = 200, NH = 40, GAP = 14; // graph node box

const $ = (id) => document.getElementById(id);
let S = null;                 // last state
let byId = new Map();         // id -> task
let hay = new Map();          // id -> lower-case search text
let unblocksOf = new Map();   // id -> ids that depend on it
let cardEls = new Map(), nodeEls = new Map();
let selected = null, detailKey = '';
let renders = 0, clockBase = Date.now(), clockAt = performance.now();
let layout = { key: null };

// ---------- small helpers ----------
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null && text !== '') e.textContent = String(text);
  return e;
}
function svg(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs) e.setAttribute(k, String(attrs[k]));
  return e;
}
function linkTo(id, text) { // a button that selects a task
  const b = el('button', 'link', text || id);
  b.type = 'button';
  b.dataset.select = id;
  return b;
}
function dot(status) { const d = el('span', 'sdot'); d.dataset.status = status; return d; }
const now = () => clockBase + (performance.now() - clockAt);
const ts = (s) => (s ? Date.parse(s) : NaN);
function dur(ms) {
  const m = Math.round(Math.abs(ms) / 60000);
  if (m < 1) return 'under a minute';
  if (m < 60) return m + ' min';
  const h = Math.floor(m / 60);
  if (h < 48) return h + ' h' + (h < 10 && m % 60 ? ' ' + (m % 60) + ' min' : '');
  return Math.round(h / 24) + ' d';
}
const ago = (s) => (isNaN(ts(s)) ? '' : dur(now() - ts(s)) + ' ago');
function clock(s) {
  const d = new Date(ts(s));
  return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
}
function shortTime(s) {
  const d = new Date(ts(s));
  if (isNaN(d)) return '';
  const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return now() - d > 20 * 3600e3 ? d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + t : t;
}
function bytes(n) {
  if (!(n >= 0)) return '';
  if (n < 1024) return n + ' B';
  if (n < 1048576) return (n / 1024).toFixed(1) + ' KB';
  return (n / 1048576).toFixed(1) + ' MB';
}
const trunc = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s);
function lease(t) { // [text, expired]
  if (!t.assignee) return ['', false];
  if (t.status !== 'in_progress') return [t.assignee, false];
  let out = 'held by ' + t.assignee, expired = false;
  if (t.started_at) out += ' for ' + dur(now() - ts(t.started_at));
  if (t.lease_expires_at) {
    const left = ts(t.lease_expires_at) - now();
    expired = left < 0;
    out += expired ? ', lease expired ' + dur(left) + ' ago' : ', lease expires in ' + dur(left);
  }
  return [out, expired];
}
function tone(state) {
  const s = String(state || '').toLowerCase();
  if (s === 'ok' || s === 'healthy' || s === 'open') return 'good';
  if (/retry|degrad|wait|slow/.test(s)) return 'warn';
  if (/fail|error|down|unhealthy|closed/.test(s)) return 'bad';
  return 'idle';
}
function table(heads, rows) {
  const t = el('table'), tr = el('tr');
  for (const h of heads) tr.append(el('th', null, h));
  const th = el('thead');
  th.append(tr);
  t.append(th);
  const body = el('tbody');
  for (const r of rows) {
    const row = el('tr');
    for (const c of r) {
      const td = el('td');
      if (c instanceof Node) td.append(c); else td.textContent = c == null ? '' : String(c);
      row.append(td);
    }
    body.append(row);
  }
  t.append(body);
  return t;
}
function badge(text, t) { const b = el('span', 'badge', text); b.dataset.tone = t || tone(text); return b; }

let statusIsLoadError = false;
function setStatus(msg, kind) {
  const s = $('status');
  s.textContent = msg || '';
  s.dataset.kind = kind || '';
  statusIsLoadError = kind === 'load';
}

// ---------- loading ----------
let inflight = false, again = false, timer = 0;
function schedule() { clearTimeout(timer); timer = setTimeout(load, 150); }
async function load() {
  if (inflight) { again = true; return; }
  inflight = true;
  try {
    const res = await fetch('api/state', { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } });
    const t0 = performance.now();
    if (!res.ok) throw new Error((await res.text()).trim().split('\n')[0].slice(0, 300) || 'HTTP ' + res.status);
    render(await res.json(), t0);
    if (statusIsLoadError) setStatus('');
  } catch (e) {
    setStatus('Could not load the board: ' + e.message, 'load');
  } finally {
    inflight = false;
    if (again) { again = false; schedule(); }
  }
}

function render(st, t0) {
  const keep = saveScroll();
  S = st;
  clockBase = ts(st.generated_at) || Date.now();
  clockAt = performance.now();
  byId = new Map(); hay = new Map(); unblocksOf = new Map();
  for (const t of st.tasks) {
    byId.set(t.id, t);
    hay.set(t.id, [t.title, t.description || '', (t.labels || []).join(' '), t.id].join('\n').toLowerCase());
  }
  for (const t of st.tasks) for (const d of t.depends_on || []) {
    if (!unblocksOf.has(d)) unblocksOf.set(d, []);
    unblocksOf.get(d).push(t.id);
  }
  if (selected && !byId.has(selected)) selected = null;
  renderHeader(); renderFilters(); renderColumns(); renderGraph();
  renderAgents(); renderCompletions(); renderHealth(); renderHistory();
  applySelection(); renderDetail(); applyFilters();
  restoreScroll(keep);
  renders++;
  const ds = document.body.dataset;
  const ms = (performance.now() - t0).toFixed(1);
  if (renders === 1) ds.renderMs = ms;
  ds.lastRenderMs = ms;
  ds.renders = String(renders);
  ds.ready = '1';
}

function saveScroll() {
  const k = { x: window.scrollX, y: window.scrollY, els: [] };
  for (const e of document.querySelectorAll('.cards, .graph-wrap, .panel .body')) k.els.push([e, e.scrollLeft, e.scrollTop]);
  const d = $('detail'); k.els.push([d, d.scrollLeft, d.scrollTop]);
  return k;
}
function restoreScroll(k) { // only where something was scrolled: setting it forces a layout
  for (const [e, l, t] of k.els) if (l || t) { e.scrollLeft = l; e.scrollTop = t; }
  if (k.x || k.y) window.scrollTo(k.x, k.y);
}

// ---------- header ----------
function renderHeader() {
  $('project-name').textContent = S.project.name || 'Task board';
  $('project-root').textContent = S.project.root || '';
  document.title = (S.project.name || 'Task board') + ' · board';
  const f = document.createDocumentFragment();
  let total = 0;
  for (const s of STATUSES) {
    const n = (S.counts && S.counts[s]) || 0;
    total += n;
    const li = el('li', 'chip');
    li.dataset.status = s;
    li.append(dot(s), el('span', null, NAMES[s]), el('b', null, n));
    f.append(li);
  }
  const li = el('li', 'chip total');
  li.append(el('span', null, 'total'), el('b', null, total));
  f.append(li);
  $('counts').replaceChildren(f);
  const u = $('updated');
  u.textContent = 'updated ' + clock(S.generated_at);
  u.title = S.generated_at || '';
  const ga = $('global-actions');
  if (S.allow_edits && !ga.firstChild) {
    const b = el('button', 'btn', 'Reconcile mirrors');
    b.type = 'button';
    b.dataset.action = 'reconcile';
    b.title = 'Rebuild the search and vector mirrors from the task store';
    ga.append(b);
  } else if (!S.allow_edits) ga.replaceChildren();
  $('footer').textContent = 'mcp-task-orchestrator ' + (S.version || '') + ' · acting as ' + (S.actor || '?') +
    (S.allow_edits ? ' · edits allowed' : ' · read-only');
}

// ---------- filters ----------
function fillSelect(sel, values, all) {
  const cur = sel.value;
  const vals = [...new Set(values.filter((v) => v != null && v !== ''))].sort((a, b) => a.localeCompare(b));
  if (cur && !vals.includes(cur)) vals.push(cur);
  const key = vals.join('\u0001');
  if (sel.dataset.key === key) return;
  sel.dataset.key = key;
  const f = document.createDocumentFragment();
  f.append(new Option(all, ''));
  for (const v of vals) f.append(new Option(v, v));
  sel.replaceChildren(f);
  sel.value = cur;
}
function renderFilters() {
  const t = S.tasks;
  fillSelect($('filter-label'), t.flatMap((x) => x.labels || []), 'All labels');
  fillSelect($('filter-role'), t.map((x) => x.role), 'All roles');
  fillSelect($('filter-assignee'), t.map((x) => x.assignee), 'All assignees');
}
function matcher() {
  const words = $('search').value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const lab = $('filter-label').value, role = $('filter-role').value, who = $('filter-assignee').value;
  if (!words.length && !lab && !role && !who) return null;
  return (t) => (!lab || (t.labels || []).includes(lab)) && (!role || t.role === role) &&
    (!who || t.assignee === who) && words.every((w) => hay.get(t.id).includes(w));
}
function applyFilters() {
  if (!S) return;
  const m = matcher();
  let shownAll = 0;
  for (const col of document.querySelectorAll('.column')) {
    let shown = 0, total = 0;
    for (const c of col.querySelector('.cards').children) {
      if (!c.dataset.id) continue;
      total++;
      const ok = !m || m(byId.get(c.dataset.id));
      c.hidden = !ok;
      if (ok) shown++;
    }
    shownAll += shown;
    col.querySelector('.shown').textContent = m && shown !== total ? shown + ' of' : '';
  }
  for (const [id, g] of nodeEls) g.classList.toggle('dim', !!m && !m(byId.get(id)));
  $('filter-summary').textContent = m ? shownAll + ' of ' + S.tasks.length + ' tasks match' : '';
}

// ---------- columns ----------
function card(t) {
  const a = el('article', 'card');
  a.dataset.id = t.id;
  a.dataset.status = t.status;
  a.tabIndex = 0;
  const top = el('div', 'card-top');
  const p = el('span', 'priority', t.priority);
  p.dataset.p = t.priority;
  top.append(p, el('span', 'tid', t.id));
  const labels = el('div', 'labels');
  for (const l of t.labels || []) labels.append(el('span', 'label', l));
  const [lt, expired] = lease(t);
  const who = el('div', 'assignee' + (expired ? ' expired' : ''), lt);
  const par = el('div', 'parent');
  if (t.parent_id) {
    const pt = byId.get(t.parent_id);
    par.textContent = pt ? pt.title : t.parent_id;
    par.title = 'Parent task ' + t.parent_id;
    par.dataset.select = t.parent_id;
  }
  const title = el('h3', 'title', t.title);
  title.title = t.title;
  a.append(top, title, labels, el('div', 'role', t.role || ''), who, par);
  return a;
}
function renderColumns() {
  const by = Object.fromEntries(STATUSES.map((s) => [s, []]));
  for (const t of S.tasks) (by[t.status] || (by[t.status] = [])).push(t);
  const recent = (t) => ts(t.completed_at || t.updated_at) || 0;
  for (const s of ['completed', 'failed', 'cancelled']) by[s].sort((a, b) => recent(b) - recent(a));
  cardEls = new Map();
  for (const col of document.querySelectorAll('.column')) {
    const list = by[col.dataset.status] || [];
    const f = document.createDocumentFragment();
    for (const t of list) { const c = card(t); cardEls.set(t.id, c); f.append(c); }
    if (!list.length) f.append(el('p', 'empty', 'Nothing here.'));
    col.querySelector('.cards').replaceChildren(f);
    col.querySelector('.count').textContent = String(list.length);
  }
}

// ---------- graph ----------
function pathD(pts) {
  let d = 'M' + pts[0].x.toFixed(1) + ',' + pts[0].y.toFixed(1);
  for (let i = 1; i < pts.length - 1; i++) {
    const p = pts[i], q = pts[i + 1];
    d += ' Q' + p.x.toFixed(1) + ',' + p.y.toFixed(1) + ' ' + ((p.x + q.x) / 2).toFixed(1) + ',' + ((p.y + q.y) / 2).toFixed(1);
  }
  const l = pts[pts.length - 1];
  return d + ' L' + l.x.toFixed(1) + ',' + l.y.toFixed(1);
}
function layoutComponent(ids, edges) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 12, ranksep: 56, edgesep: 8, marginx: 0, marginy: 0 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const id of ids) g.setNode(id, { width: NW, height: NH });
  for (const e of edges) g.setEdge(e.from, e.to);
  dagre.layout(g);
  return g;
}
// Each weakly connected part of the open work is laid out on its own, then the parts are packed in rows
// (largest first), and tasks with no open dependency either way go in a grid below: a tall single dagre
// column of unrelated chains would be slower and far harder to read.
function layoutGraph(nodes, edges, key) {
  const ns = new Set(nodes), up = new Map();
  const find = (x) => { while (up.get(x) !== x) { up.set(x, up.get(up.get(x))); x = up.get(x); } return x; };
  const es = [], seen = new Set();
  for (const e of edges) {
    const k = e.from + '>' + e.to;
    if (e.from === e.to || seen.has(k)) continue;
    seen.add(k); es.push(e);
    for (const v of [e.from, e.to]) if (!up.has(v)) up.set(v, v);
  }
  for (const e of es) up.set(find(e.from), find(e.to));
  const parts = new Map();
  for (const id of nodes) if (up.has(id)) {
    const r = find(id);
    if (!parts.has(r)) parts.set(r, { ids: [], edges: [] });
    parts.get(r).ids.push(id);
  }
  for (const e of es) parts.get(find(e.from)).edges.push(e);
  const pos = new Map(), paths = [], M = 16, avail = Math.max(600, window.innerWidth - 60);
  const laid = [...parts.values()].sort((a, b) => b.ids.length - a.ids.length).map((p) => ({ p, g: layoutComponent(p.ids, p.edges) }));
  const rowW = Math.max(avail, ...laid.map((l) => l.g.graph().width + 2 * M));
  let x = M, y = M, rowH = 0, w = 0;
  for (const { p, g } of laid) {
    const gw = g.graph().width, gh = g.graph().height;
    if (x > M && x + gw + M > rowW) { x = M; y += rowH + 28; rowH = 0; }
    for (const id of p.ids) { const n = g.node(id); pos.set(id, { x: x + n.x - NW / 2, y: y + n.y - NH / 2 }); }
    for (const e of p.edges) {
      const ed = g.edge(e.from, e.to);
      if (ed && ed.points) paths.push({ from: e.from, to: e.to, d: pathD(ed.points.map((q) => ({ x: q.x + x, y: q.y + y }))) });
    }
    x += gw + 48; rowH = Math.max(rowH, gh); w = Math.max(w, x - 48 + M);
  }
  let h = laid.length ? y + rowH + M : 0, loneY = -1;
  const lone = nodes.filter((id) => !up.has(id) && ns.has(id));
  if (lone.length) {
    const cols = Math.max(1, Math.floor((Math.max(w, avail) - M) / (NW + GAP)));
    loneY = h ? h : 8;
    const top = loneY + 22;
    lone.forEach((id, i) => pos.set(id, { x: M + (i % cols) * (NW + GAP), y: top + Math.floor(i / cols) * (NH + 10) }));
    w = Math.max(w, M + Math.min(cols, lone.length) * (NW + GAP));
    h = top + Math.ceil(lone.length / cols) * (NH + 10) + 8;
  }
  return { key, pos, paths, w: Math.ceil(w), h: Math.ceil(h), loneY, lone: lone.length };
}
function renderGraph() {
  const G = S.graph || { nodes: [], edges: [], critical_path: [] };
  const nodes = G.nodes.filter((id) => byId.has(id));
  const ns = new Set(nodes);
  const edges = G.edges.filter((e) => ns.has(e.from) && ns.has(e.to));
  const key = nodes.join(',') + '|' + edges.map((e) => e.from + '>' + e.to).join(',');
  if (layout.key !== key) layout = layoutGraph(nodes, edges, key);
  const cp = G.critical_path || [], crit = new Set(cp), critEdge = new Set();
  for (let i = 0; i + 1 < cp.length; i++) critEdge.add(cp[i] + '>' + cp[i + 1]);
  const ef = document.createDocumentFragment(), nf = document.createDocumentFragment();
  for (const p of layout.paths) {
    const c = critEdge.has(p.from + '>' + p.to);
    ef.append(svg('path', { class: 'edge' + (c ? ' critical' : ''), 'data-from': p.from, 'data-to': p.to, d: p.d }));
  }
  nodeEls = new Map();
  if (layout.lone) {
    const t = svg('text', { class: 'group-label', x: 16, y: layout.loneY + 14 });
    t.textContent = layout.lone + ' open task' + (layout.lone === 1 ? '' : 's') + ' with no open dependency either way';
    nf.append(t);
  }
  for (const id of nodes) {
    const t = byId.get(id), p = layout.pos.get(id);
    const g = svg('g', { class: 'node' + (crit.has(id) ? ' critical' : ''), 'data-id': id, 'data-status': t.status,
      transform: 'translate(' + p.x.toFixed(1) + ',' + p.y.toFixed(1) + ')', tabindex: 0 });
    const tip = svg('title', {});
    tip.textContent = t.title + '\n' + NAMES[t.status] + ' · ' + t.priority + (t.assignee ? ' · ' + t.assignee : '') + '\n' + id;
    const name = svg('text', { class: 'name', x: 13, y: 17 });
    name.textContent = trunc(t.title, 27);
    const sub = svg('text', { class: 'sub', x: 13, y: 32 });
    sub.textContent = NAMES[t.status] + (t.assignee ? ' · ' + t.assignee : '') + (t.priority === 'critical' || t.priority === 'high' ? ' · ' + t.priority : '');
    g.append(tip, svg('rect', { class: 'box', width: NW, height: NH, rx: 7 }),
      svg('rect', { class: 'stripe', x: 0, y: 0, width: 5, height: NH, rx: 2 }), name, sub);
    nodeEls.set(id, g);
    nf.append(g);
  }
  const root = $('graph');
  root.querySelector('.edges').replaceChildren(ef);
  root.querySelector('.nodes').replaceChildren(nf);
  const w = Math.max(layout.w, 10), h = Math.max(layout.h, 10);
  root.setAttribute('width', w); root.setAttribute('height', h); root.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
  $('graph-summary').textContent = nodes.length
    ? nodes.length + ' open task' + (nodes.length === 1 ? '' : 's') + ', ' + edges.length + ' dependenc' + (edges.length === 1 ? 'y' : 'ies') +
      (cp.length > 1 ? ', critical path of ' + cp.length : '')
    : 'no open work';
}

// ---------- selection & detail ----------
const MARKS = ['selected', 'blocker', 'unblocks', 'lit-in', 'lit-out'];
function applySelection() {
  for (const e of document.querySelectorAll('.selected, .blocker, .unblocks, .lit-in, .lit-out')) {
    if (!e.closest('#detail') && !e.closest('defs')) e.classList.remove(...MARKS);
  }
  $('graph').classList.toggle('has-sel', !!selected);
  document.body.classList.toggle('has-detail', !!selected);
  if (!selected) return;
  const mark = (id, c) => { cardEls.get(id)?.classList.add(c); nodeEls.get(id)?.classList.add(c); };
  mark(selected, 'selected');
  for (const id of byId.get(selected).depends_on || []) mark(id, 'blocker');
  for (const id of unblocksOf.get(selected) || []) mark(id, 'unblocks');
  for (const p of $('graph').querySelectorAll('.edge')) {
    if (p.getAttribute('data-to') === selected) p.classList.add('lit-in');
    else if (p.getAttribute('data-from') === selected) p.classList.add('lit-out');
  }
}
function taskList(ids, none) {
  if (!ids.length) return el('p', 'muted', none);
  const ul = el('ul', 'tlist');
  for (const id of ids) {
    const t = byId.get(id), li = el('li');
    li.append(dot(t ? t.status : 'cancelled'), linkTo(id, t ? t.title : id), el('span', 'muted', t ? NAMES[t.status] : 'not in this project'));
    ul.append(li);
  }
  return ul;
}
function renderDetail() {
  const d = $('detail');
  if (!selected) { d.hidden = true; d.replaceChildren(); detailKey = ''; return; }
  const t = byId.get(selected);
  const blockers = t.depends_on || [], unb = unblocksOf.get(selected) || [];
  const rel = blockers.concat(unb).map((id) => (byId.get(id) || {}).status + (byId.get(id) || {}).title);
  const key = JSON.stringify([t, rel, S.allow_edits]);
  const [lt, expired] = lease(t);
  if (key === detailKey) { // same task: only refresh the lease age, keep any text selection
    const a = d.querySelector('.d-lease');
    if (a) { a.textContent = lt; a.classList.toggle('expired', expired); }
    d.hidden = false;
    return;
  }
  detailKey = key;
  const reason = d.querySelector('#reason'), reasonVal = reason ? reason.value : '';
  const f = document.createDocumentFragment();
  const head = el('div', 'd-head');
  const st = el('span', 'status-badge', NAMES[t.status]);
  st.dataset.status = t.status;
  const close = el('button', 'close', '×');
  close.type = 'button'; close.dataset.close = '1'; close.setAttribute('aria-label', 'Close the task detail');
  head.append(st, el('span', 'tid', t.id), close);
  f.append(head, el('h2', 'd-title', t.title));
  const dl = el('dl', 'facts');
  const fact = (k, v) => { if (v == null || v === '') return; const dd = el('dd'); if (v instanceof Node) dd.append(v); else dd.textContent = v; dl.append(el('dt', null, k), dd); };
  const pr = el('span', 'priority', t.priority); pr.dataset.p = t.priority;
  fact('Priority', pr);
  fact('Role', t.role);
  const ls = el('span', 'd-lease' + (expired ? ' expired' : ''), lt);
  fact('Assignee', t.assignee ? ls : null);
  if (t.parent_id) fact('Parent', linkTo(t.parent_id, (byId.get(t.parent_id) || {}).title));
  if ((t.labels || []).length) { const l = el('span', 'labels'); for (const x of t.labels) l.append(el('span', 'label', x)); fact('Labels', l); }
  fact('Started', t.started_at ? ago(t.started_at) : '');
  fact('Completed', t.completed_at ? ago(t.completed_at) : '');
  fact('Updated', ago(t.updated_at));
  f.append(dl);
  f.append(el('h3', null, 'Description'), el('p', 'desc' + (t.description ? '' : ' muted'), t.description || 'No description.'));
  if (t.summary) f.append(el('h3', null, 'Summary'), el('p', 'desc', t.summary));
  f.append(el('h3', null, 'Blocked by (' + blockers.length + ')'), taskList(blockers, 'Nothing: it can start now.'));
  f.append(el('h3', null, 'Unblocks (' + unb.length + ')'), taskList(unb, 'No task waits for it.'));
  if (S.allow_edits && OPEN.has(t.status)) {
    const box = el('div', 'd-actions');
    const inp = el('input');
    inp.id = 'reason'; inp.type = 'text'; inp.placeholder = 'Reason (optional, recorded in the history)'; inp.value = reasonVal;
    inp.setAttribute('aria-label', 'Reason for the action');
    box.append(inp);
    const row = el('div', 'row');
    const btn = (action, text, cls, tip) => {
      const b = el('button', 'btn ' + cls, text);
      b.type = 'button'; b.dataset.action = action; b.dataset.task = t.id; b.title = tip;
      row.append(b);
    };
    if (t.status === 'in_progress') btn('release', 'Release', '', 'Give the task back: pending, no assignee, lease cleared');
    btn('cancel', 'Cancel task', 'danger', 'Set the task to cancelled');
    box.append(row);
    f.append(box);
  }
  d.replaceChildren(f);
  d.hidden = false;
}
function select(id, from) {
  selected = id && byId.has(id) ? id : null;
  applySelection();
  renderDetail();
  if (!selected) return;
  const n = layout.pos && layout.pos.get(id), wrap = $('graph-wrap');
  if (n && from !== 'graph') wrap.scrollTo({ left: n.x - wrap.clientWidth / 2 + NW / 2, top: n.y - wrap.clientHeight / 2, behavior: 'smooth' });
  const c = cardEls.get(id);
  if (c && from !== 'card' && !c.hidden) {
    const list = c.parentElement;
    list.scrollTo({ top: c.offsetTop - list.offsetTop - 8, behavior: 'smooth' });
  }
}

// ---------- side panels ----------
function renderAgents() {
  const rows = [];
  for (const a of S.agents) a.tasks.forEach((t, i) => {
    const exp = el('span', t.expired ? 'expired' : '',
      !t.lease_expires_at ? 'no lease' : t.expired ? 'expired ' + ago(t.lease_expires_at) : 'in ' + dur(ts(t.lease_expires_at) - now()));
    rows.push([i ? '' : a.agent, linkTo(t.id, t.title), t.started_at ? dur(now() - ts(t.started_at)) : '', exp]);
  });
  $('agents').querySelector('.body').replaceChildren(rows.length
    ? table(['Agent', 'Task', 'Held for', 'Lease expires'], rows) : el('p', 'muted', 'No agent holds a task right now.'));
}
function safeUrl(u) { // only relative links from the server (api/artifacts/…)
  return typeof u === 'string' && u && !/^[a-z][a-z0-9+.-]*:/i.test(u) && !u.startsWith('//') ? u : null;
}
function renderCompletions() {
  const f = document.createDocumentFragment();
  for (const c of S.completions) {
    const li = el('li');
    const top = el('div', 'line');
    top.append(linkTo(c.id, c.title), el('span', 'muted', [c.assignee, ago(c.completed_at)].filter(Boolean).join(' · ')));
    li.append(top);
    if (c.summary) li.append(el('p', 'summary', c.summary));
    if ((c.artifacts || []).length) {
      const arts = el('div', 'artifacts');
      for (const a of c.artifacts) {
        const url = safeUrl(a.url);
        const link = el(url ? 'a' : 'span', 'artifact', a.name);
        if (url) { link.setAttribute('href', url); link.setAttribute('download', a.name); }
        link.title = bytes(a.size);
        arts.append(link);
      }
      li.append(arts);
    }
    f.append(li);
  }
  const ul = el('ul', 'feed');
  ul.append(f);
  $('completions').querySelector('.body').replaceChildren(S.completions.length ? ul : el('p', 'muted', 'Nothing completed yet.'));
}
function renderHealth() {
  const f = document.createDocumentFragment();
  const num = (x) => (x == null ? '' : x < 10 ? (+x).toFixed(2) : (+x).toFixed(0));
  f.append(el('h3', null, 'Pools'));
  f.append(S.pools.length ? table(['Pool', 'Backend', 'State', 'In use / idle / max', 'Waiting', 'Timeouts', 'p99 ms'],
    S.pools.map((p) => {
      const st = badge(p.state);
      if (p.last_error) st.title = p.last_error;
      return [p.name, p.backend, st, p.in_use + ' / ' + p.idle + ' / ' + p.max, p.waiting, p.timeouts, num(p.acquire_wait_p99_ms)];
    })) : el('p', 'muted', 'No pools reported.'));
  const perr = S.pools.filter((p) => p.last_error);
  for (const p of perr) f.append(el('p', 'err', p.name + ': ' + p.last_error));
  f.append(el('h3', null, 'Mirrors'));
  f.append(S.mirrors.length ? table(['Mirror', 'State', 'Pending', 'Oldest', 'Last error'],
    S.mirrors.map((m) => [m.mirror, badge(m.state), m.pending, m.oldest_age_ms ? dur(m.oldest_age_ms) : '',
      el('span', m.last_error ? 'err' : 'muted', m.last_error || m.note || '')])) : el('p', 'muted', 'No mirrors reported.'));
  $('health').querySelector('.body').replaceChildren(f);
}
function renderHistory() {
  const ol = el('ol', 'feed history');
  for (const h of S.history) {
    const li = el('li');
    const tm = el('time', 'muted', shortTime(h.at));
    tm.setAttribute('datetime', h.at); tm.title = h.at;
    const ev = el('span', 'event', h.event);
    const what = el('div', 'what');
    what.append(el('span', 'actor', h.actor), ev, linkTo(h.task_id, h.title || h.task_id));
    li.append(tm, what);
    if (h.detail) li.append(el('span', 'muted detail', h.detail));
    ol.append(li);
  }
  $('history').querySelector('.body').replaceChildren(S.history.length ? ol : el('p', 'muted', 'No history yet.'));
}

// ---------- actions ----------
async function act(action, id, button) {
  if (!S || !S.allow_edits) return;
  const body = { action };
  if (id) body.id = id;
  const r = $('reason');
  if (id && r && r.value.trim()) body.reason = r.value.trim();
  setStatus('Sending ' + action + '…', 'busy');
  if (button) button.disabled = true;
  try {
    const res = await fetch('api/actions', {
      method: 'POST', credentials: 'same-origin', body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', 'X-Board-CSRF': S.csrf || '' },
    });
    let ok = res.ok, msg = '';
    if ((res.headers.get('Content-Type') || '').includes('json')) {
      const j = await res.json();
      ok = ok && j.ok !== false;
      msg = ok ? j.message : j.error;
    } else msg = (await res.text()).trim().split('\n')[0];
    setStatus(msg || (ok ? 'Done.' : 'The action failed (HTTP ' + res.status + ').'), ok ? 'ok' : 'error');
    if (ok) { if (r) r.value = ''; schedule(); }
  } catch (e) {
    setStatus('The action could not be sent: ' + e.message, 'error');
  } finally {
    if (button && button.isConnected) button.disabled = false;
  }
}

// ---------- live stream ----------
let es = null, retry = 1000, wasDown = false;
function setLive(state, text) {
  const l = $('live');
  l.dataset.state = state;
  l.textContent = text || state;
}
function connect() {
  setLive('connecting');
  es = new EventSource('api/events');
  es.addEventListener('open', () => {
    setLive('live');
    retry = 1000;
    if (wasDown) { wasDown = false; schedule(); } // catch up on what was missed
  });
  es.addEventListener('change', schedule);
  es.addEventListener('tick', schedule);
  es.addEventListener('error', () => {
    wasDown = true;
    if (es.readyState === EventSource.CLOSED) { // the browser gave up: retry ourselves, backing off
      es.close();
      setLive('reconnecting', 'reconnecting in ' + Math.round(retry / 1000) + ' s');
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    } else setLive('reconnecting');
  });
}

// ---------- wiring ----------
document.addEventListener('click', (ev) => {
  const t = ev.target;
  if (!(t instanceof Element)) return;
  const a = t.closest('button[data-action]');
  if (a) { act(a.dataset.action, a.dataset.task, a); return; }
  if (t.closest('[data-close]')) { select(null); return; }
  const s = t.closest('[data-select]');
  if (s) { select(s.dataset.select, 'link'); return; }
  const n = t.closest('#graph .node');
  if (n) { select(n.getAttribute('data-id'), 'graph'); return; }
  const c = t.closest('.card');
  if (c && !(window.getSelection() || '').toString()) select(c.dataset.id === selected ? null : c.dataset.id, 'card');
});
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && selected) { select(null); return; }
  if (ev.key !== 'Enter' && ev.key !== ' ') return;
  const t = ev.target;
  if (t instanceof Element && (t.matches('.card') || t.matches('#graph .node'))) {
    ev.preventDefault();
    select(t.getAttribute('data-id'), t.matches('.card') ? 'card' : 'graph');
  }
});
$('search').addEventListener('input', applyFilters);
for (const id of ['filter-label', 'filter-role', 'filter-assignee']) $(id).addEventListener('change', applyFilters);

load();
connect();
