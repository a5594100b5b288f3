// The mcp-fleet console: preact + htm (no JSX build step), uPlot for charts.
// Bundled by scripts/build-console.mjs into dist/console/app.js and app.css.
import { h, render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './style.css';

const html = htm.bind(h);

/** The console's base path: the page is served at <base>/ and its API at <base>/api. */
const BASE = location.pathname.replace(/\/(index\.html)?$/, '');
const KEY_STORE = 'mcp-fleet-console-key';
const POLL_MS = 2000;
const COLORS = ['#2f5bea', '#18794e', '#c42b1c', '#a15c07', '#7a3ed6', '#0b7285', '#d6336c', '#495057'];

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Calls the console API. The admin key lives in sessionStorage (this tab only) and goes in the Authorization header, never in a URL. */
async function api(path, { method = 'GET', body } = {}) {
  const headers = {};
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) headers.authorization = `Bearer ${key}`;
  if (method !== 'GET') headers['x-mcp-fleet-console'] = '1';
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${BASE}/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  const text = await response.text();
  let data;
  try {
    data = text === '' ? undefined : JSON.parse(text);
  } catch {
    data = { error: text };
  }
  if (!response.ok) throw new ApiError(response.status, (data && data.error) || `HTTP ${response.status}`);
  return data;
}

/** Polls `path` every POLL_MS while mounted. */
function usePoll(path, deps = []) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    let timer;
    const run = async () => {
      try {
        const data = await api(path);
        if (live) setState({ data, error: undefined });
      } catch (error) {
        if (live) setState((s) => ({ data: s.data, error }));
      }
      if (live) timer = setTimeout(run, POLL_MS);
    };
    run();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [path, tick, ...deps]);
  return { ...state, refresh: () => setTick((t) => t + 1) };
}

function useHash() {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

const fmt = {
  ms: (v) => (v === null || v === undefined ? '–' : v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`),
  pct: (v) => `${(v * 100).toFixed(1)} %`,
  rate: (v) => (v === 0 ? '0' : v < 0.1 ? v.toFixed(2) : v.toFixed(1)),
  bytes: (v) => (v === null || v === undefined ? '–' : `${(v / 1024 / 1024).toFixed(1)} MiB`),
  age: (s) => (s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`),
};

/** A start error: its cause, and when, if the server has recovered since. */
function startError(e) {
  if (!e) return '';
  return e.current ? e.reason : `${e.reason} (at ${new Date(e.at).toLocaleTimeString()}; recovered since)`;
}

function Badge({ state, testid }) {
  return html`<span class="badge ${state}" data-testid=${testid}>${state}</span>`;
}

/** A uPlot time-series chart; `series` is [{ label, values }] over the shared `t` (unix seconds). */
function Chart({ title, t, series, unit }) {
  const box = useRef(null);
  const plot = useRef(null);
  const shape = series.map((s) => s.label).join('|');
  useEffect(() => {
    if (!box.current) return undefined;
    const opts = {
      width: Math.max(320, box.current.clientWidth || 480),
      height: 180,
      legend: { live: false },
      scales: { x: { time: true } },
      axes: [{}, { values: (_u, ticks) => ticks.map((v) => `${v}${unit}`) }],
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true }))],
    };
    plot.current = new uPlot(opts, [t, ...series.map((s) => s.values)], box.current);
    return () => {
      plot.current.destroy();
      plot.current = null;
    };
  }, [shape]);
  useEffect(() => {
    if (plot.current) plot.current.setData([t, ...series.map((s) => s.values)]);
  });
  return html`<div class="panel chart"><h3>${title}</h3><div ref=${box}></div></div>`;
}

function Login({ onDone, error }) {
  const [key, setKey] = useState('');
  const [message, setMessage] = useState(error);
  const submit = async (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORE, key.trim());
    try {
      onDone(await api('/whoami'));
    } catch (e) {
      sessionStorage.removeItem(KEY_STORE);
      setMessage(e.message);
    }
  };
  return html`<div class="login panel">
    <h1>mcp-fleet console</h1>
    <p class="muted">Sign in with an admin key (gateway.console.adminKeys) or an OAuth access token with the admin scope.</p>
    <form onSubmit=${submit}>
      <label class="field"><span>Admin key</span><input type="password" name="key" autocomplete="off" value=${key} onInput=${(e) => setKey(e.target.value)} /></label>
      <button class="primary" type="submit">Sign in</button>
    </form>
    ${message && html`<p class="error" role="alert">${message}</p>`}
  </div>`;
}

function Overview() {
  const { data, error } = usePoll('/overview?seconds=300');
  if (!data) return html`<p class=${error ? 'error' : 'muted'}>${error ? error.message : 'Loading…'}</p>`;
  const servers = data.servers;
  const t = servers[0] ? servers[0].stats.series.t : [];
  return html`<div>
    <h1>Fleet</h1>
    ${error && html`<p class="error">${error.message}</p>`}
    <div class="panel">
      <table>
        <thead><tr><th>Server</th><th>State</th><th>Era</th><th class="num">Children</th><th class="num">Sessions (2025 / 2024)</th><th class="num">In flight</th><th class="num">Calls/s</th><th class="num">Errors</th><th class="num">p50</th><th class="num">p99</th><th class="num">Restarts</th><th>Last start error</th></tr></thead>
        <tbody>
          ${servers.map(
            (s) => html`<tr data-testid=${`server-row-${s.name}`}>
              <td><a href=${`#/server/${encodeURIComponent(s.name)}`}>${s.name}</a></td>
              <td><${Badge} state=${s.state} testid=${`state-${s.name}`} /></td>
              <td>${s.era || '–'}</td>
              <td class="num" data-testid=${`children-${s.name}`}>${s.children}</td>
              <td class="num">${s.sessions.streamable} / ${s.sessions.sse}</td>
              <td class="num">${s.inFlight}</td>
              <td class="num">${fmt.rate(s.stats.callsPerSecond)}</td>
              <td class="num">${fmt.pct(s.stats.errorRate)}</td>
              <td class="num">${fmt.ms(s.stats.p50Ms)}</td>
              <td class="num">${fmt.ms(s.stats.p99Ms)}</td>
              <td class="num">${s.restarts}</td>
              <td class=${s.lastStartError && s.lastStartError.current ? 'error' : 'muted'} data-testid=${`start-error-${s.name}`}>${startError(s.lastStartError)}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      <p class="muted">Rates and latencies over the last ${Math.round(data.seconds / 60)} minutes; latencies are upper bounds of √2-wide buckets.</p>
    </div>
    ${(data.virtualServers || []).length > 0 &&
    html`<div class="panel">
      <h2>Virtual servers</h2>
      <table>
        <thead><tr><th>Virtual server</th><th>State</th><th>Members</th><th class="num">Sessions</th><th class="num">Calls/s</th><th class="num">Errors</th><th class="num">p50</th><th class="num">p99</th></tr></thead>
        <tbody>
          ${data.virtualServers.map(
            (v) => html`<tr data-testid=${`virtual-row-${v.name}`}>
              <td>${v.name}</td>
              <td><${Badge} state=${v.state} testid=${`virtual-state-${v.name}`} /></td>
              <td>${v.members.map((m, i) => html`${i > 0 ? ', ' : ''}<a href=${`#/server/${encodeURIComponent(m.name)}`}>${m.name}</a>${m.state === 'ready' ? '' : html` <span class="error">(${m.state})</span>`}`)}</td>
              <td class="num">${v.sessions}</td>
              <td class="num">${fmt.rate(v.stats.callsPerSecond)}</td>
              <td class="num">${fmt.pct(v.stats.errorRate)}</td>
              <td class="num">${fmt.ms(v.stats.p50Ms)}</td>
              <td class="num">${fmt.ms(v.stats.p99Ms)}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>`}
    <div class="charts">
      <${Chart} title="Calls per second" unit="" t=${t} series=${servers.map((s) => ({ label: s.name, values: s.stats.series.calls }))} />
      <${Chart} title="p99 latency (ms)" unit="" t=${t} series=${servers.map((s) => ({ label: s.name, values: s.stats.series.p99 }))} />
    </div>
  </div>`;
}

function ServerPage({ name }) {
  const { data, error, refresh } = usePoll(`/servers/${encodeURIComponent(name)}`);
  const [caps, setCaps] = useState(undefined);
  const [busy, setBusy] = useState(undefined);
  const [actionError, setActionError] = useState(undefined);
  useEffect(() => {
    api(`/servers/${encodeURIComponent(name)}/capabilities`).then(setCaps, (e) => setCaps({ error: e.message }));
  }, [name]);
  const act = async (pid, action) => {
    setBusy(pid);
    setActionError(undefined);
    try {
      await api(`/servers/${encodeURIComponent(name)}/children/${pid}/${action}`, { method: 'POST' });
    } catch (e) {
      setActionError(e.message);
    }
    setBusy(undefined);
    refresh();
  };
  if (!data) return html`<p class=${error ? 'error' : 'muted'}>${error ? error.message : 'Loading…'}</p>`;
  const list = (kind, items, label) => html`<div class="panel"><h2>${kind} (${items ? items.items.length : '…'})</h2>
    ${items && items.error && html`<p class="muted">${items.error}</p>`}
    <ul>${(items ? items.items : []).map((i) => html`<li><strong>${label(i)}</strong> <span class="muted">${i.description || ''}</span></li>`)}</ul></div>`;
  return html`<div>
    <h1>${name} <${Badge} state=${data.state} testid="server-state" /></h1>
    <p><a href=${`#/playground/${encodeURIComponent(name)}`}>Open in the playground →</a></p>
    ${data.lastStartError && html`<p class=${data.lastStartError.current ? 'error' : 'muted'}>Last start error: ${startError(data.lastStartError)}</p>`}
    <div class="panel">
      <table>
        <tbody>
          <tr><th>Command</th><td><code>${data.config.command} ${data.config.args.join(' ')}</code></td></tr>
          <tr><th>Environment</th><td>${Object.keys(data.config.env).length === 0 ? html`<span class="muted">none</span>` : Object.entries(data.config.env).map(([k, v]) => html`<code>${k}=${v}</code> `)}</td></tr>
          <tr><th>Era · policy</th><td>${data.era || '–'} · ${data.policy} (pool ${data.config.pool.min}..${data.config.pool.max})</td></tr>
          <tr><th>Restarts</th><td>${data.restarts}</td></tr>
          <tr><th>Calls/s · errors · p50 · p99</th><td>${fmt.rate(data.stats.callsPerSecond)} · ${fmt.pct(data.stats.errorRate)} · ${fmt.ms(data.stats.p50Ms)} · ${fmt.ms(data.stats.p99Ms)}</td></tr>
        </tbody>
      </table>
    </div>
    <h2>Child processes (<span data-testid="child-count">${data.processes.length}</span>)</h2>
    ${actionError && html`<p class="error">${actionError}</p>`}
    <div class="panel">
      ${data.processes.length === 0 && html`<p class="muted" data-testid="no-children">No child running. The next request starts one.</p>`}
      ${data.processes.map(
        (p) => html`<div data-testid=${`process-${p.pid}`} data-pid=${p.pid}>
          <p><strong>pid ${p.pid}</strong> · RSS ${fmt.bytes(p.rssBytes)} · up ${fmt.age(p.uptimeSeconds)}
            <button class="danger" disabled=${busy !== undefined} onClick=${() => act(p.pid, 'stop')}>Stop</button>
            <button disabled=${busy !== undefined} onClick=${() => act(p.pid, 'restart')}>Restart</button></p>
          ${p.stderr ? html`<pre>${p.stderr.length === 0 ? '(no stderr yet)' : p.stderr.join('\n')}</pre>` : html`<p class="muted">${data.stderrHidden}</p>`}
        </div>`,
      )}
    </div>
    <h2>Recent errors</h2>
    <div class="panel">
      ${data.recentErrors.length === 0 ? html`<p class="muted">None in the window.</p>` : html`<table><tbody>${data.recentErrors
            .slice()
            .reverse()
            .map((e) => html`<tr><td>${new Date(e.at).toLocaleTimeString()}</td><td>HTTP ${e.status}</td><td>${e.method || ''}</td></tr>`)}</tbody></table>`}
    </div>
    ${caps && caps.error && html`<p class="error">${caps.error}</p>`}
    ${list('Tools', caps && caps.tools, (i) => i.name)}
    ${list('Prompts', caps && caps.prompts, (i) => i.name)}
    ${list('Resources', caps && caps.resources, (i) => i.name || i.uri)}
  </div>`;
}

function Sessions() {
  const { data, error, refresh } = usePoll('/sessions');
  const end = async (handle) => {
    try {
      await api(`/sessions/${handle}`, { method: 'DELETE' });
    } catch (e) {
      alert(e.message);
    }
    refresh();
  };
  if (!data) return html`<p class=${error ? 'error' : 'muted'}>${error ? error.message : 'Loading…'}</p>`;
  return html`<div>
    <h1>Sessions</h1>
    <p class="muted">Sessions of 2025-era (Streamable HTTP) and 2024-11-05 (HTTP+SSE) clients. 2026-07-28 clients are stateless: they show as in-flight requests on the fleet page.</p>
    <div class="panel">
      ${data.sessions.length === 0
        ? html`<p class="muted" data-testid="no-sessions">No open session.</p>`
        : html`<table>
            <thead><tr><th>Server</th><th>Who</th><th>Client</th><th>Era</th><th>Served by</th><th class="num">Age</th><th class="num">Idle</th><th class="num">In flight</th><th></th></tr></thead>
            <tbody>${data.sessions.map(
              (s) => html`<tr data-testid=${`session-${s.handle}`}>
                <td>${s.server}</td><td>${s.owner}</td><td>${s.client || html`<span class="muted">–</span>`}</td><td>${s.era}</td><td>${s.servedBy}</td>
                <td class="num">${fmt.age(s.ageSeconds)}</td><td class="num">${fmt.age(s.idleSeconds)}</td><td class="num">${s.inFlight}</td>
                <td><button class="danger" onClick=${() => end(s.handle)}>End</button></td>
              </tr>`,
            )}</tbody>
          </table>`}
    </div>
  </div>`;
}

/** One form field from a JSON Schema property. */
function Field({ name, schema, required, value, onChange }) {
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  const label = html`<span>${name}${required ? ' *' : ''} <small class="muted">${type || 'json'}</small></span>`;
  const help = schema.description ? html`<small>${schema.description}</small>` : null;
  if (Array.isArray(schema.enum)) {
    return html`<label class="field">${label}<select name=${name} value=${value ?? ''} onChange=${(e) => onChange(e.target.value === '' ? undefined : schema.enum[Number(e.target.value)])}>
      <option value="">–</option>${schema.enum.map((v, i) => html`<option value=${i} selected=${value === v}>${String(v)}</option>`)}</select>${help}</label>`;
  }
  if (type === 'boolean') {
    return html`<label class="field">${label}<input type="checkbox" name=${name} checked=${value === true} onChange=${(e) => onChange(e.target.checked)} />${help}</label>`;
  }
  if (type === 'number' || type === 'integer') {
    return html`<label class="field">${label}<input type="number" name=${name} step=${type === 'integer' ? 1 : 'any'} value=${value ?? ''} onInput=${(e) => onChange(e.target.value === '' ? undefined : Number(e.target.value))} />${help}</label>`;
  }
  if (type === 'string') {
    return html`<label class="field">${label}<input type="text" name=${name} value=${value ?? ''} onInput=${(e) => onChange(e.target.value === '' ? undefined : e.target.value)} />${help}</label>`;
  }
  // Objects, arrays and anything else: JSON text, parsed at call time.
  return html`<label class="field">${label}<textarea name=${name} placeholder="JSON" onInput=${(e) => onChange({ json: e.target.value })}>${value && value.json !== undefined ? value.json : ''}</textarea>${help}</label>`;
}

function argumentsFrom(schema, values) {
  const args = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    if (value && typeof value === 'object' && 'json' in value) {
      if (value.json.trim() === '') continue;
      try {
        args[key] = JSON.parse(value.json);
      } catch {
        throw new Error(`${key}: not valid JSON`);
      }
    } else args[key] = value;
  }
  return args;
}

function Playground({ server, servers }) {
  const [caps, setCaps] = useState(undefined);
  const [tool, setTool] = useState(undefined);
  const [values, setValues] = useState({});
  const [result, setResult] = useState(undefined);
  const [calling, setCalling] = useState(false);
  useEffect(() => {
    setCaps(undefined);
    setTool(undefined);
    setResult(undefined);
    if (server) api(`/servers/${encodeURIComponent(server)}/capabilities`).then(setCaps, (e) => setCaps({ error: e.message }));
  }, [server]);
  const pick = (t) => {
    setTool(t);
    setValues({});
    setResult(undefined);
  };
  const call = async (event) => {
    event.preventDefault();
    setCalling(true);
    try {
      const args = argumentsFrom(tool.inputSchema || {}, values);
      setResult(await api(`/servers/${encodeURIComponent(server)}/rpc`, { method: 'POST', body: { method: 'tools/call', params: { name: tool.name, arguments: args } } }));
    } catch (e) {
      setResult({ failure: e.message });
    }
    setCalling(false);
  };
  const schema = (tool && tool.inputSchema) || {};
  const required = new Set(schema.required || []);
  const tools = caps && caps.tools ? caps.tools.items : [];
  return html`<div>
    <h1>Tool playground</h1>
    <p class="muted">Calls go through the gateway's own MCP endpoint (2026-07-28, stateless) as you, the signed-in principal.</p>
    <p><label>Server <select data-testid="playground-server" value=${server || ''} onChange=${(e) => (location.hash = `#/playground/${encodeURIComponent(e.target.value)}`)}>
      <option value="">–</option>${servers.map((s) => html`<option value=${s} selected=${s === server}>${s}</option>`)}</select></label></p>
    ${server && !caps && html`<p class="muted">Listing tools…</p>`}
    ${caps && caps.error && html`<p class="error">${caps.error}</p>`}
    ${caps && caps.tools && caps.tools.error && html`<p class="error">${caps.tools.error}</p>`}
    ${caps && html`<div class="cols">
      <div class="tools panel">${tools.map((t) => html`<button class=${tool && tool.name === t.name ? 'selected' : ''} data-testid=${`tool-${t.name}`} onClick=${() => pick(t)}>${t.name}</button>`)}</div>
      <div class="panel">
        ${!tool && html`<p class="muted">Pick a tool.</p>`}
        ${tool && html`<form onSubmit=${call}>
          <h2>${tool.name}</h2>
          <p class="muted">${tool.description || ''}</p>
          ${Object.entries(schema.properties || {}).map(
            ([name, prop]) => html`<${Field} key=${`${tool.name}.${name}`} name=${name} schema=${prop || {}} required=${required.has(name)} value=${values[name]} onChange=${(v) => setValues((old) => ({ ...old, [name]: v }))} />`,
          )}
          <button class="primary" type="submit" disabled=${calling}>${calling ? 'Calling…' : 'Call'}</button>
        </form>`}
        ${result && html`<${CallResult} result=${result} />`}
      </div>
    </div>`}
  </div>`;
}

function CallResult({ result }) {
  if (result.failure) return html`<p class="error" data-testid="call-result">${result.failure}</p>`;
  const message = result.message || {};
  const body = message.result;
  const texts = body && Array.isArray(body.content) ? body.content.filter((c) => c.type === 'text').map((c) => c.text) : [];
  return html`<div data-testid="call-result">
    <h2>Result <span class="muted">(HTTP ${result.status}, ${result.latencyMs} ms)</span></h2>
    ${message.error && html`<p class="error">Error ${message.error.code}: ${message.error.message}</p>`}
    ${body && body.isError && html`<p class="error">The tool reported an error.</p>`}
    ${texts.length > 0 && html`<pre data-testid="call-text">${texts.join('\n')}</pre>`}
    <details><summary>Raw JSON-RPC answer</summary><pre>${JSON.stringify(message, null, 2)}</pre></details>
  </div>`;
}

function App() {
  const [me, setMe] = useState(undefined);
  const [loginError, setLoginError] = useState(undefined);
  const [servers, setServers] = useState([]);
  const hash = useHash();
  const check = useCallback(async () => {
    try {
      setMe(await api('/whoami'));
    } catch (e) {
      setMe(null);
      if (e.status !== 401 || sessionStorage.getItem(KEY_STORE)) setLoginError(e.message);
    }
  }, []);
  useEffect(() => {
    check();
  }, []);
  useEffect(() => {
    if (me) api('/overview?seconds=60').then((o) => setServers(o.servers.map((s) => s.name)), () => {});
  }, [me]);
  if (me === undefined) return html`<p class="muted">Loading…</p>`;
  if (me === null) return html`<${Login} error=${loginError} onDone=${(who) => { setLoginError(undefined); setMe(who); }} />`;
  const signOut = () => {
    sessionStorage.removeItem(KEY_STORE);
    setMe(null);
  };
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const page = parts[0] || '';
  let body;
  if (page === 'server' && parts[1]) body = html`<${ServerPage} key=${parts[1]} name=${parts[1]} />`;
  else if (page === 'sessions') body = html`<${Sessions} />`;
  else if (page === 'playground') body = html`<${Playground} server=${parts[1]} servers=${servers} />`;
  else body = html`<${Overview} />`;
  const link = (href, label, active) => html`<a href=${href} class=${active ? 'active' : ''}>${label}</a>`;
  return html`<div>
    <header>
      <span class="brand">mcp-fleet console</span>
      <nav>${link('#/', 'Fleet', page === '' || page === 'server')}${link('#/sessions', 'Sessions', page === 'sessions')}${link('#/playground', 'Playground', page === 'playground')}</nav>
      <span class="who" data-testid="whoami">${me.principal}${me.version ? ` · v${me.version}` : ''}${me.mode === 'admin' ? html`<button onClick=${signOut}>Sign out</button>` : null}</span>
    </header>
    <main>
      ${me.notice && html`<div class="notice" role="status">${me.notice}</div>`}
      ${body}
    </main>
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));
