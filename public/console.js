// The operations console: plain ES module, no build step, no third-party code (it must work offline
// behind a firewall). Every figure comes from the service's own admin endpoints, authenticated with
// an admin API key that lives in this tab's sessionStorage only.
const KEY = 'mailslot.adminKey';
const REFRESH_MS = 2000;
const $ = (id) => document.getElementById(id);

/** Builds an element; children are nodes or text (never parsed as HTML). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return e;
}

function table(headers, rows) {
  return el('table', {}, el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))),
    el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c) => el('td', {}, c))))));
}

const yesNo = (b) => el('span', { class: b ? 'yes' : 'no' }, b ? 'yes' : 'no');

async function api(method, path) {
  const res = await fetch(path, { method, headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` } });
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (res.status === 401 || res.status === 403) {
    signOut(body?.message ?? 'the key was refused');
    throw new Error('signed out');
  }
  return { status: res.status, body };
}

function duration(s) {
  if (s == null) return '–';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** p99 of the observations made between two histogram snapshots (upper bound of its bucket). */
function p99(prev, cur) {
  if (!prev || !cur) return null;
  const n = cur.count - prev.count;
  if (n <= 0) return null;
  const target = 0.99 * n;
  for (let i = 0; i < cur.buckets.length; i++) {
    const [le, c] = cur.buckets[i];
    if (c - (prev.buckets[i]?.[1] ?? 0) >= target) return le;
  }
  return Infinity;
}

let prev = null;
let timer = null;

async function refresh() {
  timer = null;
  try {
    const { status, body: o } = await api('GET', '/v1/admin/overview');
    if (status !== 200) throw new Error(o?.message ?? `HTTP ${status}`);
    const dt = prev ? (Date.parse(o.at) - Date.parse(prev.at)) / 1000 : 0;
    const rate = (a, b) => (prev && dt > 0 && a != null && b != null ? ((a - b) / dt).toFixed(1) : '–');
    $('held-poll').textContent = o.held.poll;
    $('held-stream').textContent = o.held.stream;
    $('publish-rate').textContent = rate(o.published, prev?.published);
    $('delivery-rate').textContent = rate(o.delivered?.total, prev?.delivered?.total);
    const pp = p99(prev?.publishLatency, o.publishLatency);
    const dp = p99(prev?.deliveryLatency, o.deliveryLatency);
    $('publish-p99').textContent = pp === null ? '–' : pp === Infinity ? '> 5 s' : `≤ ${duration(pp)}`;
    $('delivery-p99').textContent = dp === null ? '–' : dp === Infinity ? '> 1 h' : `≤ ${duration(dp)}`;
    $('oldest-unacked').textContent = o.oldestUnackedAgeS == null ? 'none' : duration(o.oldestUnackedAgeS);
    $('outbox').textContent = o.outboxBacklog ?? 'n/a';
    $('dead-count').textContent = o.deadLetters ?? 'n/a';
    $('published-total').textContent = o.published ?? 'metrics off';
    $('delivered-total').textContent = o.delivered?.total ?? 'metrics off';
    $('infra').textContent = `${o.listener ? 'up' : 'DOWN'} · ${o.pool.total - o.pool.idle}/${o.pool.total}`;
    $('live-at').textContent = `updated ${new Date(o.at).toLocaleTimeString()}`;
    prev = o;
  } catch (err) {
    if (err.message === 'signed out') return;
    $('live-at').textContent = `refresh failed: ${err.message}`;
  }
  if (sessionStorage.getItem(KEY)) timer = setTimeout(refresh, REFRESH_MS);
}

async function loadJobs() {
  const { body } = await api('GET', '/v1/admin/job-runs?limit=15');
  const out = $('jobs-out');
  out.replaceChildren();
  if (!body?.runs?.length) return out.append(el('p', { class: 'empty' }, 'No job runs recorded yet.'));
  out.append(table(['job', 'started', 'duration', 'rows', 'outcome'], body.runs.map((r) => [
    r.job, new Date(r.startedAt).toLocaleString(), `${r.durationMs} ms`, r.rows,
    r.error ? el('span', { class: 'no' }, r.error) : el('span', { class: 'yes' }, 'ok'),
  ])));
}

async function loadDeadLetters() {
  const out = $('dead-out');
  const { status, body } = await api('GET', '/v1/admin/dead-letters');
  out.replaceChildren();
  if (status === 404) return out.append(el('p', { class: 'empty', id: 'dead-absent' }, 'This server has no dead-letter endpoints (GET /v1/admin/dead-letters answered 404).'));
  if (status !== 200) return out.append(el('p', { class: 'error' }, body?.message ?? `HTTP ${status}`));
  const list = body.deadLetters ?? [];
  if (!list.length) return out.append(el('p', { class: 'empty', id: 'dead-empty' }, 'No dead letters.'));
  const act = (id, what) => async () => {
    const r = await api('POST', `/v1/admin/dead-letters/${encodeURIComponent(id)}/${what}`);
    if (r.status >= 300) alert(r.body?.message ?? `HTTP ${r.status}`);
    await loadDeadLetters();
  };
  out.append(table(['id', 'user', 'device', 'seqs', 'attempts', 'reason', 'created', ''], list.map((d) => [
    d.id, d.user, d.device, `${d.fromSeq}–${d.toSeq}`, d.attempts, d.reason, new Date(d.createdAt).toLocaleString(),
    el('span', {}, el('button', { type: 'button', 'data-retry': d.id, onclick: act(d.id, 'retry') }, 'Retry'), ' ',
      el('button', { type: 'button', class: 'secondary', 'data-discard': d.id, onclick: act(d.id, 'discard') }, 'Discard')),
  ])));
}

async function trace(id) {
  const out = $('trace-out');
  out.replaceChildren(el('p', { class: 'empty' }, 'Tracing…'));
  const { status, body: t } = await api('GET', `/v1/admin/messages/${encodeURIComponent(id)}/trace`);
  out.replaceChildren();
  if (status !== 200) return out.append(el('p', { class: 'error' }, t?.message ?? `HTTP ${status}`));
  const m = t.message;
  out.append(el('p', {}, `${m.type} from ${m.from}${m.group ? ` to group ${m.group}` : ''}, created ${new Date(m.createdAt).toLocaleString()}; `,
    `${t.recipientCount} recipient(s)${t.truncated ? ` (first ${t.recipients.length} shown)` : ''}; fan-out: ${t.fanout.mode === 'group' ? `${t.fanout.state}, ${t.fanout.done} of ${t.fanout.total} members` : t.fanout.state}.`));
  const rows = [];
  for (const r of t.recipients) {
    if (!r.devices.length) rows.push([r.user, r.seq, yesNo(r.read), el('span', { class: 'empty' }, 'no device yet'), '–', '–']);
    for (const d of r.devices) {
      const w = d.written.length
        ? d.written.map((x) => `${new Date(x.at).toLocaleTimeString()} via ${x.transport}`).join(', ')
        : el('span', { class: 'no' }, 'not written');
      rows.push([r.user, r.seq, yesNo(r.read), d.device, w, yesNo(d.acknowledged)]);
    }
  }
  out.append(el('div', { id: 'trace-table' }, table(['user', 'seq', 'read', 'device', 'written to a connection', 'acknowledged'], rows)));
  if (t.deadLetters.length) out.append(el('p', { class: 'error' }, `${t.deadLetters.length} dead-letter row(s) concern this message.`));
}

async function devices(user) {
  const out = $('devices-out');
  const { status, body } = await api('GET', `/v1/admin/users/${encodeURIComponent(user)}/devices`);
  out.replaceChildren();
  if (status !== 200) return out.append(el('p', { class: 'error' }, body?.message ?? `HTTP ${status}`));
  if (!body.devices.length) return out.append(el('p', { class: 'empty' }, 'No device has connected as this user.'));
  out.append(table(['device', 'cursor (acked)', 'inbox head', 'read', 'last seen', 'online'], body.devices.map((d) => [
    d.device, d.cursor, d.head, d.read, new Date(d.lastSeen).toLocaleString(), yesNo(d.online),
  ])));
}

function showApp(on) {
  $('signin').hidden = on;
  $('app').hidden = !on;
  $('who').hidden = !on;
}

function signOut(message = '') {
  sessionStorage.removeItem(KEY);
  if (timer) clearTimeout(timer);
  timer = null;
  prev = null;
  showApp(false);
  $('signin-error').textContent = message;
}

async function signIn(key) {
  sessionStorage.setItem(KEY, key);
  const { status, body } = await api('GET', '/v1/admin/overview').catch(() => ({ status: 0 }));
  if (status !== 200) {
    if (sessionStorage.getItem(KEY)) signOut(body?.message ?? 'the service did not answer');
    return;
  }
  $('who-text').textContent = `key ${key.slice(0, 16)}…`;
  showApp(true);
  await refresh();
  await Promise.all([loadJobs(), loadDeadLetters()]).catch(() => undefined);
}

$('signin-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const key = $('key').value.trim();
  $('key').value = '';
  void signIn(key);
});
$('sign-out').addEventListener('click', () => signOut());
$('trace-form').addEventListener('submit', (e) => { e.preventDefault(); void trace($('trace-id').value.trim()); });
$('devices-form').addEventListener('submit', (e) => { e.preventDefault(); void devices($('devices-user').value.trim()); });

if (sessionStorage.getItem(KEY)) void signIn(sessionStorage.getItem(KEY));
