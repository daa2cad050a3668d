// The App Store page's logic (gateway/page/index.html): a client of the gateway's AX API (seed-000 routes) with the
// token in the Secret header, live progress pushed over GET /app_store/events (fetch stream), task logs followed by range.
const KEY = 'appstore.token';
const FILES_KEY = 'appstore.files';
const $ = (id) => document.getElementById(id);

const STATUS_TEXT = {
  not_installed: 'Not installed', upgradable: 'Update available', up_to_date: 'Installed',
  download_queueing: 'Waiting to download', downloading: 'Downloading', downloaded: 'Downloaded',
  download_failed: 'Download failed', install_queueing: 'Waiting to install', installing: 'Installing',
  install_failed: 'Install failed', uninstall_queueing: 'Waiting to uninstall', uninstalling: 'Uninstalling',
  uninstall_failed: 'Uninstall failed',
};
const BUSY = new Set(['download_queueing', 'downloading', 'install_queueing', 'installing', 'uninstall_queueing', 'uninstalling']);
const TASK_TEXT = { pending: 'Waiting', running: 'Running', succeeded: 'Succeeded', failed: 'Failed', cancelled: 'Cancelled' };

let token = sessionStorage.getItem(KEY) || '';
/** name -> package (AX shape), apps and firmware. */
let apps = new Map();
let firmware = new Map();
/** Live state from events, by module: {task_id, kind, state, progress, error}. */
const live = new Map();
/** Local files installed from this page, by module (for Retry). */
const files = new Map(Object.entries(JSON.parse(sessionStorage.getItem(FILES_KEY) || '{}')));
/** Lock state by installed app id: {reason, owner}. */
const locks = new Map();
let openLog = null; // {kind, id, offset, more, busy}
let events = null;

// ---------- talking to the gateway ----------
class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}
/** Turns any AX error body into words: {"detail"}, or per-package {"name": "text"} / {"name": {"error"}}. */
function wordsOf(body, fallback) {
  if (!body || typeof body !== 'object') return fallback;
  if (typeof body.detail === 'string') return body.detail;
  if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg || JSON.stringify(d)).join('; ');
  const parts = Object.entries(body).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : v && v.error ? v.error : JSON.stringify(v)}`);
  return parts.length ? parts.join('; ') : fallback;
}
async function api(method, path, body) {
  let r;
  try {
    r = await fetch(path, {
      method, cache: 'no-store',
      headers: { Secret: token, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new ApiError(0, 'The device cannot be reached. Check that the app install service is running.');
  }
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* plain text */ }
  if (r.status === 401) { signOut('The token was not accepted. Sign in again.'); throw new ApiError(401, 'The token was not accepted.'); }
  if (!r.ok) {
    const what = r.status === 403 ? 'This token is not allowed to do that' : r.status === 501 ? 'Not available on this device yet' : `Request failed (HTTP ${r.status})`;
    throw new ApiError(r.status, `${what}: ${wordsOf(json, text || r.statusText)}`);
  }
  return { json, text, headers: r.headers };
}

// ---------- messages ----------
function showError(msg) {
  $('error-text').textContent = msg;
  $('error').hidden = false;
}
function clearError() { $('error').hidden = true; $('error-text').textContent = ''; }
function announce(msg) { $('announce').textContent = msg; }

// ---------- sign in / out ----------
function signOut(why) {
  token = '';
  sessionStorage.removeItem(KEY);
  if (events) events.abort();
  events = null;
  $('store').hidden = true;
  $('top-actions').hidden = true;
  $('signin').hidden = false;
  if (why) showError(why);
  $('token').focus();
}
async function signIn(t) {
  token = t;
  try {
    await api('GET', '/app_store/packages');
  } catch (e) {
    if (e.status !== 401) showError(e.message);
    return;
  }
  sessionStorage.setItem(KEY, token);
  clearError();
  $('signin').hidden = true;
  $('store').hidden = false;
  $('top-actions').hidden = false;
  announce('Signed in.');
  listen();
  await Promise.all([loadPackages(), loadTasks()]);
  $('apps-title').focus();
}

// ---------- packages ----------
async function loadPackages() {
  const [a, f] = await Promise.allSettled([api('GET', '/app_store/packages'), api('GET', '/app_store/firmware/packages')]);
  if (a.status === 'fulfilled') apps = new Map(a.value.json.map((p) => [p.name, p]));
  else showError(`Could not load the apps: ${a.reason.message}`);
  if (f.status === 'fulfilled') firmware = new Map(f.value.json.map((p) => [p.name, p]));
  else if (f.reason.status !== 501) showError(`Could not load the firmware: ${f.reason.message}`);
  await loadLocks();
  render();
}
/** Lock state of installed apps, from Thunder's getlockinfo (Bearer header); absent when the engine has no locks. */
async function loadLocks() {
  locks.clear();
  const installed = [...apps.values()].filter((p) => p.current_version);
  await Promise.all(installed.slice(0, 50).map(async (p) => {
    try {
      const r = await fetch('/jsonrpc', {
        method: 'POST', cache: 'no-store',
        headers: { Authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'org.rdk.PackageManager.1.getlockinfo', params: { id: p.name } }),
      });
      const j = await r.json();
      if (j.result && (j.result.reason || j.result.owner)) locks.set(p.name, j.result);
    } catch { /* no lock information */ }
  }));
}

/** A package's status with what the event stream says now (between list loads). */
function statusOf(p) {
  const l = live.get(p.name);
  const s = { ...p };
  if (!l) return s;
  if (l.state === 'running' || l.state === 'queued') {
    const q = l.state === 'queued';
    if (l.kind === 'uninstall') s.status = q ? 'uninstall_queueing' : 'uninstalling';
    else if (l.kind === 'download' || (l.stage === 'DOWNLOADING' && l.progress > 0 && l.progress < 0.9 && p.status === 'downloading')) s.status = q ? 'download_queueing' : 'downloading';
    else s.status = q ? 'install_queueing' : 'installing';
    s.progress = l.progress;
  } else if (l.state === 'failed') {
    s.status = l.kind === 'uninstall' ? 'uninstall_failed' : l.kind === 'download' ? 'download_failed' : 'install_failed';
    s.install_failed_reason = l.error || p.install_failed_reason || '';
  }
  return s;
}
function progressOf(s) {
  if (typeof s.progress === 'number') return s.progress;
  if (s.status === 'downloading') return s.downloading_progress || 0;
  if (s.status === 'installing') return s.installing_progress || 0;
  return 0;
}

function chipClass(status) {
  if (status === 'up_to_date' || status === 'downloaded') return 'chip chip-ok';
  if (BUSY.has(status)) return 'chip chip-busy';
  if (status.endsWith('_failed')) return 'chip chip-bad';
  if (status === 'upgradable') return 'chip chip-warn';
  return 'chip';
}
const COLORS = ['#2456d6', '#1f7a3f', '#8a3ffc', '#d12771', '#b56200', '#007d79', '#6f4e37', '#4b5563'];
function colorOf(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return COLORS[h % COLORS.length];
}
function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids) if (k) e.append(k);
  return e;
}

/** The buttons seed 000 gives each status (firmware installs in one step, without a download). */
function buttonsOf(s, fw) {
  const b = [];
  const locked = locks.has(s.name);
  switch (s.status) {
    case 'not_installed': b.push(['GET', 'btn btn-primary', () => act('install', s.name, fw)]); break;
    case 'upgradable': b.push(fw ? ['Install', 'btn btn-primary', () => act('install', s.name, fw)] : ['Download', 'btn btn-primary', () => act('download', s.name, fw)]); break;
    case 'downloaded': b.push(['Install', 'btn btn-primary', () => act('install', s.name, fw)]); break;
    case 'download_failed': b.push(['Retry', 'btn btn-primary', () => act('download', s.name, fw)]); break;
    case 'install_failed': b.push(['Retry', 'btn btn-primary', () => act('install', s.name, fw)]); break;
    default: break;
  }
  if (!fw && s.current_version && !BUSY.has(s.status) && s.status !== 'not_installed') {
    b.push(['Uninstall', 'btn btn-danger', () => act('uninstall', s.name, fw), locked]);
  }
  return b;
}

function card(p, fw) {
  const s = statusOf(p);
  const busy = BUSY.has(s.status);
  const pct = Math.round(progressOf(s) * 100);
  const lock = locks.get(s.name);
  const title = `${s.name}`;
  const version = s.current_version && s.latest_version && s.current_version !== s.latest_version
    ? `${s.current_version} installed · ${s.latest_version} available`
    : s.current_version ? `Version ${s.current_version}` : s.latest_version ? `Version ${s.latest_version}` : '';
  const id = `pkg-${fw ? 'fw' : 'app'}-${s.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const icon = el('div', { class: 'icon', 'aria-hidden': 'true' }, s.name.replace(/^.*\./, '').slice(0, 1).toUpperCase());
  icon.style.background = colorOf(s.name);
  const li = el('li', { class: 'app', id, tabindex: '-1', 'data-name': s.name, 'data-status': s.status, 'aria-labelledby': `${id}-t` },
    icon,
    el('h3', { class: 'app-title', id: `${id}-t`, text: title }),
    el('div', { class: 'app-version', text: version }),
    el('div', { class: 'app-row' },
      el('span', { class: chipClass(s.status), 'data-role': 'status', text: busy && pct > 0 ? `${STATUS_TEXT[s.status]} ${pct} %` : STATUS_TEXT[s.status] || s.status }),
      lock ? el('span', { class: 'chip chip-lock', title: lock.reason || '', text: `Locked${lock.owner ? ` by ${lock.owner}` : ''}` }) : null),
  );
  if (busy) {
    const bar = el('div', { class: 'progress', role: 'progressbar', 'aria-label': `${s.name} ${STATUS_TEXT[s.status]}`, 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(pct) }, el('span'));
    bar.firstChild.style.width = `${pct}%`;
    li.append(bar);
  }
  if (s.status.endsWith('_failed') && s.install_failed_reason) li.append(el('p', { class: 'reason', text: s.install_failed_reason }));
  const actions = el('div', { class: 'actions' });
  for (const [label, cls, fn, disabled] of buttonsOf(s, fw)) {
    actions.append(el('button', { type: 'button', class: cls, disabled: !!disabled, 'aria-label': `${label} ${s.name}`, onclick: fn, text: label }));
  }
  li.append(actions);
  return li;
}

function render() {
  // Packages the list does not hold yet (a local install running or failed) show from their live state.
  const shown = new Map(apps);
  for (const [name, l] of live) {
    if (shown.has(name) || firmware.has(name) || l.kind === 'uninstall' || l.state === 'succeeded' || l.state === 'cancelled') continue;
    shown.set(name, { name, latest_version: l.version || '', current_version: '', status: 'not_installed' });
  }
  const keepFocus = document.activeElement && document.activeElement.closest('.app') ? document.activeElement.closest('.app').id : null;
  const keepLabel = document.activeElement ? document.activeElement.textContent : null;
  const list = $('apps');
  list.replaceChildren(...[...shown.values()].sort((x, y) => x.name.localeCompare(y.name)).map((p) => card(p, false)));
  $('apps-empty').hidden = shown.size > 0;
  $('apps-count').textContent = shown.size ? `${shown.size} ${shown.size === 1 ? 'app' : 'apps'}` : '';
  $('firmware').replaceChildren(...[...firmware.values()].map((p) => card(p, true)));
  $('fw-empty').hidden = firmware.size > 0;
  if (keepFocus) {
    const c = document.getElementById(keepFocus);
    const btn = c && ([...c.querySelectorAll('button')].find((b) => b.textContent === keepLabel) || c.querySelector('button'));
    if (btn) btn.focus();
  }
}

// ---------- actions ----------
async function act(what, name, fw) {
  clearError();
  try {
    // A package the store does not list (installed from a file on this page, then failed) is retried from its file.
    if (what === 'install' && !fw && files.has(name) && !apps.has(name)) {
      return await installFile(files.get(name));
    }
    const path = what === 'download' ? '/app_store/services/download_packages'
      : what === 'uninstall' ? '/app_store/services/uninstall_packages'
      : fw ? '/app_store/firmware/install_packages' : '/app_store/services/install_packages';
    const verb = what === 'download' ? 'Downloading' : what === 'uninstall' ? 'Uninstalling' : 'Installing';
    const r = await api('POST', path, { packages: [name] });
    const t = r.json && r.json[name];
    if (t && t.task_id) live.set(name, { task_id: t.task_id, kind: what === 'uninstall' ? 'uninstall' : what, state: 'queued', progress: 0, version: t.version });
    announce(`${verb} ${name}${t && t.version ? ` ${t.version}` : ''}.`);
    render();
    scheduleTasks();
  } catch (e) {
    showError(`Could not ${what} ${name}. ${e.message}`);
  }
}

async function installFile(filename) {
  clearError();
  const base = filename.split('/').pop() || '';
  const m = /^([^_]+)_([^_]+)(?:_[^_]+)?\.ipk$/.exec(base);
  if (m) {
    files.set(m[1], filename);
    sessionStorage.setItem(FILES_KEY, JSON.stringify(Object.fromEntries(files)));
  }
  announce(`Installing ${base}.`);
  $('file-install').disabled = true;
  try {
    const r = await api('POST', '/app_store/services/install_local_file', { filename });
    announce(`Installed ${r.json.module_name} ${r.json.version}.`);
  } catch (e) {
    showError(`Could not install ${base}. ${e.message}`);
  } finally {
    $('file-install').disabled = false;
    scheduleList();
    scheduleTasks();
  }
}

// ---------- pushed events ----------
/** Reads GET /app_store/events (server-sent events) with fetch, so the token stays in a header; reconnects on loss. */
async function listen() {
  if (events) events.abort();
  const ctl = new AbortController();
  events = ctl;
  let delay = 1000;
  while (!ctl.signal.aborted && token) {
    try {
      const r = await fetch('/app_store/events', { headers: { Secret: token }, cache: 'no-store', signal: ctl.signal });
      if (r.status === 401) { signOut('The token was not accepted. Sign in again.'); return; }
      if (!r.ok) {
        let body = null;
        try { body = await r.json(); } catch { /* none */ }
        setConn(false, `No live updates: ${wordsOf(body, `HTTP ${r.status}`)}`);
        return;
      }
      setConn(true, 'Live');
      delay = 1000;
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const chunk = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = chunk.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          if (data) { try { onEvent(JSON.parse(data)); } catch { /* a malformed event is skipped */ } }
        }
      }
    } catch {
      if (ctl.signal.aborted) return;
    }
    setConn(false, 'Reconnecting…');
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 15000);
    if (!ctl.signal.aborted) { scheduleList(); scheduleTasks(); }
  }
}
function setConn(ok, text) {
  const c = $('conn');
  c.textContent = text;
  c.className = `conn ${ok ? 'live' : 'down'}`;
}

function onEvent(ev) {
  const before = live.get(ev.module);
  live.set(ev.module, ev);
  if (ev.state === 'failed') {
    showError(`${ev.kind === 'uninstall' ? 'Uninstall' : ev.kind === 'download' ? 'Download' : 'Install'} of ${ev.module} failed: ${ev.error || 'no reason given'}`);
  } else if (ev.state === 'succeeded') {
    announce(`${ev.module} ${ev.kind === 'uninstall' ? 'uninstalled' : ev.kind === 'download' ? 'downloaded' : 'installed'}.`);
  }
  if (ev.state === 'succeeded' || ev.state === 'cancelled' || ev.state === 'failed' || !before || before.task_id !== ev.task_id) {
    scheduleList();
    scheduleTasks();
  }
  updateCard(ev.module);
  taskFromEvent(ev);
  if (openLog && openLog.id === ev.task_id) followLog();
}
/** Updates one card in place (progress moves without rebuilding the page). */
function updateCard(name) {
  const p = apps.get(name) || firmware.get(name);
  const old = document.querySelector(`.app[data-name="${CSS.escape(name)}"]`);
  if (!p || !old) { render(); return; }
  const fresh = card(p, firmware.has(name));
  const s = statusOf(p);
  const bar = old.querySelector('.progress');
  if (bar && BUSY.has(s.status) && old.dataset.status === s.status) {
    const pct = Math.round(progressOf(s) * 100);
    bar.firstChild.style.width = `${pct}%`;
    bar.setAttribute('aria-valuenow', String(pct));
    old.querySelector('[data-role=status]').textContent = fresh.querySelector('[data-role=status]').textContent;
  } else {
    const hadFocus = old.contains(document.activeElement);
    old.replaceWith(fresh);
    if (hadFocus) (fresh.querySelector('button') || fresh).focus?.();
  }
}

let listTimer = null;
function scheduleList() {
  clearTimeout(listTimer);
  listTimer = setTimeout(async () => {
    await loadPackages().catch((e) => showError(e.message));
    // Finished operations are in the list now; keep only failures (the list cannot show a local install that failed).
    for (const [k, l] of live) if (l.state === 'succeeded' || l.state === 'cancelled') live.delete(k);
    render();
  }, 250);
}

// ---------- tasks and logs ----------
let taskTimer = null;
function scheduleTasks() {
  clearTimeout(taskTimer);
  taskTimer = setTimeout(() => loadTasks().catch((e) => showError(e.message)), 300);
}
async function loadTasks() {
  const [d, i] = await Promise.allSettled([api('GET', '/app_store/jobs/download/tasks'), api('GET', '/app_store/jobs/install/tasks')]);
  const all = [];
  if (d.status === 'fulfilled') all.push(...d.value.json.map((t) => ({ ...t, kind: 'download' })));
  if (i.status === 'fulfilled') all.push(...i.value.json.map((t) => ({ ...t, kind: 'install' })));
  else showError(`Could not load the tasks: ${i.reason.message}`);
  all.sort((a, b) => b.id - a.id);
  const keep = document.activeElement && document.activeElement.dataset.task;
  $('tasks').replaceChildren(...all.slice(0, 50).map(taskRow));
  $('tasks-empty').hidden = all.length > 0;
  if (keep) { const b = document.querySelector(`button[data-task="${keep}"]`); if (b) b.focus(); }
}

/** What each task did, from its events (the AX task lists hold installs and uninstalls alike, without a kind). */
const taskVerbs = new Map();
const TASK_VERB = { download: 'Download', install: 'Install', uninstall: 'Uninstall', remove: 'Uninstall', firmware: 'Install' };
function taskRow(t) {
  const open = openLog && openLog.id === t.id;
  const chip = t.status === 'succeeded' ? 'chip chip-ok' : t.status === 'failed' ? 'chip chip-bad' : t.status === 'running' ? 'chip chip-busy' : 'chip';
  return el('li', { class: `task${open ? ' open' : ''}`, 'data-task-id': String(t.id) },
    el('div', { class: 'task-what' },
      el('strong', { text: `#${t.id} ${verbOf(t)}${t.module}${t.version ? ` ${t.version}` : ''}` }),
      el('span', { class: 'task-time', text: t.end_time ? `${t.start_time} – ${t.end_time}` : t.start_time || t.create_time || 'now' })),
    el('span', { class: chip, text: TASK_TEXT[t.status] || t.status }),
    el('button', { type: 'button', class: 'btn', 'data-task': String(t.id), 'aria-expanded': open ? 'true' : 'false', 'aria-controls': 'log', 'aria-label': `Show the log of task ${t.id}`, onclick: () => showLog(t.kind, t.id, t.module), text: 'Log' }));
}
function verbOf(t) {
  const v = t.verb || taskVerbs.get(`${t.kind}:${t.id}`) || (t.kind === 'download' ? 'download' : '');
  return v ? `${TASK_VERB[v]} ` : '';
}
/** A task the list does not show yet gets its row from its first event at once (the list reload follows). */
function taskFromEvent(ev) {
  taskVerbs.set(`${ev.kind === 'download' ? 'download' : 'install'}:${ev.task_id}`, ev.kind);
  if (document.querySelector(`#tasks li[data-task-id="${ev.task_id}"]`)) return;
  const status = ev.state === 'queued' ? 'pending' : ev.state;
  $('tasks').prepend(taskRow({ id: ev.task_id, kind: ev.kind === 'download' ? 'download' : 'install', verb: ev.kind, module: ev.module, version: ev.version, status }));
  $('tasks-empty').hidden = true;
}

async function showLog(kind, id, module) {
  openLog = { kind, id, offset: 0, more: true, busy: false, again: false };
  $('log').hidden = false;
  $('log-title').textContent = `Log of task #${id} (${module})`;
  $('log-text').textContent = '';
  $('log-state').textContent = 'Loading…';
  for (const t of document.querySelectorAll('.task')) t.classList.toggle('open', t.dataset.taskId === String(id));
  for (const b of document.querySelectorAll('button[data-task]')) b.setAttribute('aria-expanded', b.dataset.task === String(id) ? 'true' : 'false');
  await followLog();
  $('log-text').focus();
}
/** Reads the log from where it stopped (AX ?start=, X-TEXT-SIZE, X-MORE-DATA); again on each event of the task. */
async function followLog() {
  const L = openLog;
  if (!L) return;
  if (L.busy) { L.again = true; return; }
  L.busy = true;
  try {
    do {
      L.again = false;
      const r = await api('GET', `/app_store/jobs/${L.kind}/tasks/${L.id}/log?start=${L.offset}`);
      if (openLog !== L) return;
      if (r.text) {
        const pre = $('log-text');
        const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
        pre.append(document.createTextNode(r.text));
        if (atEnd) pre.scrollTop = pre.scrollHeight;
      }
      L.offset += r.text.length;
      L.more = r.headers.get('X-MORE-DATA') === 'true';
      $('log-state').textContent = L.more ? 'Following…' : `Complete · ${r.headers.get('X-TEXT-SIZE')} characters`;
      $('log-state').className = L.more ? 'chip chip-busy' : 'chip chip-ok';
    } while (L.again);
  } catch (e) {
    showError(`Could not read the log of task ${L.id}. ${e.message}`);
  } finally {
    L.busy = false;
  }
  // Events drive the following; a slow timer only covers a quiet stretch of a running task.
  clearTimeout(L.timer);
  if (L.more && openLog === L) L.timer = setTimeout(followLog, 3000);
}

// ---------- wiring ----------
$('signin-form').addEventListener('submit', (e) => { e.preventDefault(); void signIn($('token').value.trim()); $('token').value = ''; });
$('signout').addEventListener('click', () => { signOut(); clearError(); announce('Signed out.'); });
$('error-close').addEventListener('click', clearError);
$('log-close').addEventListener('click', () => { if (openLog) clearTimeout(openLog.timer); openLog = null; $('log').hidden = true; scheduleTasks(); });
$('refresh').addEventListener('click', async () => {
  clearError();
  $('refresh').disabled = true;
  announce('Refreshing the store…');
  try {
    await Promise.allSettled([api('POST', '/app_store/services/refresh_store'), api('POST', '/app_store/firmware/refresh_store')]).then((rs) => {
      const bad = rs.find((r) => r.status === 'rejected' && r.reason.status !== 501);
      if (rs[0].status === 'rejected') showError(`Could not refresh the store. ${rs[0].reason.message}`);
      else if (bad) showError(`Could not refresh the firmware. ${bad.reason.message}`);
    });
    await Promise.all([loadPackages(), loadTasks()]);
    announce('Store refreshed.');
    // The feeds are read in the background (seed 000: the list changes later): look again a few times, backing off.
    for (const ms of [700, 2000, 5000, 10000]) setTimeout(() => { if (token) loadPackages().catch((e) => showError(e.message)); }, ms);
  } finally {
    $('refresh').disabled = false;
  }
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && openLog) { $('log-close').click(); const b = document.querySelector('#tasks button[data-task]'); if (b) b.focus(); }
});
$('file-form').addEventListener('submit', (e) => { e.preventDefault(); void installFile($('file-path').value.trim()); });

if (token) void signIn(token);
else signOut();
