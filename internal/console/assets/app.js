// Junction's operating console: one page over Junction's own HTTP API. The API token is
// kept by the server in an HttpOnly cookie after sign-in; this script never sees it. It
// sends the CSRF token the server gave it with every change. Everything shown comes from
// the API as text (textContent), never as markup.
"use strict";

const state = { me: null, timer: null, stream: null, docRoles: {} };

// ---- DOM helpers ---------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

function badge(text, kind) { return el("span", { class: "badge " + (kind || "") }, text); }

const statusKinds = {
  healthy: "ok", running: "ok", closed: "ok", delivered: "ok", completed: "ok", done: "ok", succeeded: "ok",
  degraded: "warn", "half-open": "warn", retrying: "warn", pending: "warn", waiting: "warn", starting: "warn", stopping: "warn", scheduled: "warn",
  down: "bad", open: "bad", failed: "bad", dead: "bad", misconfigured: "bad", cancelled: "bad", dead_lettered: "bad", replay_failed: "bad", stopped: "", filtered: "", requeued: "warn",
  standby: "",
};
function statusBadge(s) { return badge(s || "–", statusKinds[s] || ""); }
// A flow in standby: its source (a singleton: schedule, postgres) is read by another node.
function flowState(f) {
  return [statusBadge(f.state), f.state === "standby" && f.source_holder
    ? el("div", { class: "who", title: `lease ${f.source_lease}` }, `source on ${f.source_holder}`) : null];
}

function when(t) {
  if (!t) return "–";
  const d = new Date(t);
  const secs = Math.round((Date.now() - d.getTime()) / 1000);
  const rel = Math.abs(secs) < 60 ? `${Math.abs(secs)}s` : Math.abs(secs) < 3600 ? `${Math.round(Math.abs(secs) / 60)}m` : Math.abs(secs) < 86400 ? `${Math.round(Math.abs(secs) / 3600)}h` : `${Math.round(Math.abs(secs) / 86400)}d`;
  return el("span", { title: d.toISOString() }, secs >= 0 ? `${rel} ago` : `in ${rel}`);
}

function pct(x) { return x === undefined || x === null ? "–" : (x * 100).toFixed(x < 0.1 && x > 0 ? 2 : 1) + "%"; }
function ms(x) { return x === undefined || x === null ? "–" : `${Math.round(x * 10) / 10} ms`; }

function table(headers, rows, empty) {
  const head = el("tr", {}, headers.map(h => el("th", { class: h.num ? "num" : "" }, h.label || h)));
  const body = rows.length ? rows : [el("tr", {}, el("td", { colspan: headers.length, class: "empty" }, empty || "Nothing here yet."))];
  return el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, head), el("tbody", {}, body)));
}

function jsonDetails(label, value) {
  if (value === undefined || value === null) return "–";
  return el("details", { class: "json" }, el("summary", {}, label), el("pre", {}, JSON.stringify(value, null, 2)));
}

// preview is a value as one line of JSON, cut to what fits a row.
function preview(value) {
  const text = JSON.stringify(value);
  return text && text.length > 240 ? text.slice(0, 240) + "…" : text || "";
}

// pager links to the neighbouring pages of a paged answer: base is the route, and a
// page's route is base/page/N.
function pager(base, p) {
  if (!p || p.total_pages <= 1) return null;
  const link = (n, label, id) => n >= 1 && n <= p.total_pages ? el("a", { href: `${base}/page/${n}`, "data-page": id }, label) : el("span", { class: "who" }, label);
  return el("p", { class: "pager" }, link(p.page - 1, "← newer", "newer"), ` page ${p.page} of ${p.total_pages} (${p.total}) `, link(p.page + 1, "older →", "older"));
}

// pageParam is the page a route asks for (…/page/N), 1 without one.
function pageParam(params, at) { return params[at] === "page" ? Math.max(1, parseInt(params[at + 1], 10) || 1) : 1; }

function card(label, value) { return el("div", { class: "card" }, el("div", { class: "label" }, label), el("div", { class: "value" }, value)); }

// ---- API -----------------------------------------------------------------------------

class APIError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.me && state.me.csrf) headers["X-CSRF-Token"] = state.me.csrf;
  const resp = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  if (resp.status === 204) return null;
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!resp.ok) {
    if (resp.status === 401 && path !== "/console/session") { state.me = null; render(); }
    throw new APIError(resp.status, data || {});
  }
  return data;
}

// mayCall says whether the signed-in token's role allows an API operation, from the
// OpenAPI document's x-junction-role: admin-only actions are shown disabled to a user.
function mayCall(method, path) {
  const need = state.docRoles[method.toLowerCase() + " " + path];
  return need !== "admin" || (state.me && state.me.role === "admin");
}

function actionButton(label, method, docPath, path, opts) {
  opts = opts || {};
  const allowed = mayCall(method, docPath);
  return el("button", {
    class: opts.class || "", disabled: !allowed,
    title: allowed ? (opts.title || "") : "needs an admin token",
    "data-action": opts.id || label.toLowerCase(),
    onclick: async (ev) => {
      const b = ev.currentTarget;
      if (opts.confirm && !window.confirm(opts.confirm)) return;
      b.disabled = true;
      try {
        const out = await api(method, path, opts.body);
        flash("info", opts.done ? opts.done(out) : `${label}: done.`);
      } catch (err) {
        flash("error", `${label} failed: ${err.message}`);
      }
      b.disabled = false;
      refresh();
    },
  }, label);
}

function flash(kind, message) {
  const box = document.getElementById("flash");
  if (!box) return;
  box.replaceChildren(typeof message === "string" ? el("div", { class: "notice " + kind, role: kind === "error" ? "alert" : "status" }, message) : message);
}

// ---- Pages ---------------------------------------------------------------------------

const pages = [
  { id: "integrations", title: "Integrations", render: integrationsPage },
  { id: "webhooks", title: "Webhooks", render: webhooksPage },
  { id: "dead-letters", title: "Dead letters", render: deadLettersPage },
  { id: "flows", title: "Flows", render: flowsPage },
  { id: "workflows", title: "Workflows", render: workflowsPage },
  { id: "jobs", title: "Jobs", render: jobsPage },
  { id: "events", title: "Live events", render: eventsPage, live: true },
  { id: "reports", title: "Reports", render: reportsPage },
];

async function integrationsPage() {
  const { integrations } = await api("GET", "/integrations/status");
  const health = await Promise.all(integrations.map(i => api("GET", `/integrations/${encodeURIComponent(i.name)}/health`).catch(() => ({}))));
  const open = integrations.filter(i => i.circuit_state !== "closed").length;
  const rows = integrations.map((i, n) => {
    const h = health[n];
    return el("tr", { "data-integration": i.name },
      el("td", {}, el("strong", {}, i.name), el("div", { class: "who" }, i.type)),
      el("td", {}, statusBadge(i.status), i.reason ? el("div", { class: "who wrap" }, i.reason) : null),
      el("td", { "data-circuit": i.circuit_state }, statusBadge(i.circuit_state)),
      el("td", { class: "num" }, h.calls ?? "–"),
      el("td", { class: "num" }, ms(h.latency_p50)),
      el("td", { class: "num" }, ms(h.latency_p99)),
      el("td", { class: "num" }, pct(i.error_rate)),
      el("td", { class: "wrap" }, h.last_error || "–"),
      el("td", {}, actionButton("Reset circuit", "POST", "/integrations/{name}/circuit/reset", `/integrations/${encodeURIComponent(i.name)}/circuit/reset`,
        { id: "reset-circuit", done: () => `The circuit of ${i.name} is closed.` })));
  });
  return [
    el("div", { class: "cards" }, card("Integrations", integrations.length), card("Healthy", integrations.filter(i => i.status === "healthy").length), card("Circuits not closed", open)),
    table(["Integration", "Status", "Circuit", { label: "Calls", num: true }, { label: "p50", num: true }, { label: "p99", num: true }, { label: "Errors", num: true }, "Last error", ""], rows,
      "No integration is configured."),
  ];
}

async function webhooksPage(params) {
  if (params[0]) return webhookDetail(params[0], pageParam(params, 1));
  const { data } = await api("GET", "/webhooks?limit=100");
  const rows = data.map(e => el("tr", {},
    el("td", {}, el("a", { href: `#/webhooks/${e.id}` }, e.name || e.id)),
    el("td", { class: "wrap mono" }, e.url),
    el("td", {}, (e.events || []).join(", ")),
    el("td", {}, statusBadge(e.circuit_state)),
    el("td", {}, e.is_active ? badge("active", "ok") : badge("paused")),
    el("td", { class: "num" }, e.consecutive_failures),
    el("td", {}, when(e.last_delivery_at)),
    el("td", {}, when(e.last_failure_at))));
  return [table(["Endpoint", "URL", "Events", "Circuit", "State", { label: "Failures in a row", num: true }, "Last delivery", "Last failure"], rows,
    "No endpoint is registered: POST /webhooks adds one.")];
}

async function webhookDetail(id, page) {
  const [e, deliveries] = await Promise.all([api("GET", `/webhooks/${id}`), api("GET", `/webhooks/${id}/deliveries?limit=50&page=${page}`)]);
  const rows = deliveries.data.map(d => el("tr", { "data-delivery": d.id },
    el("td", {}, d.event_type, el("div", { class: "who mono" }, d.event_id)),
    el("td", { "data-status": d.status }, statusBadge(d.status)),
    el("td", { class: "num" }, `${d.attempt_count} of ${d.max_attempts}`),
    el("td", { class: "num" }, d.response_status_code ?? "–"),
    el("td", { class: "wrap" }, d.error_message || (d.response_body ? jsonDetails("response", d.response_body) : "–")),
    el("td", {}, d.status === "retrying" || d.status === "pending" ? when(d.next_retry_at) : "–"),
    el("td", {}, when(d.created_at)),
    el("td", {}, d.status === "delivered" ? null : actionButton("Retry", "POST", "/webhooks/deliveries/{id}/retry", `/webhooks/deliveries/${d.id}/retry`,
      { id: "retry-delivery", done: () => "The delivery is scheduled now." }))));
  return [
    el("p", {}, el("a", { href: "#/webhooks" }, "← all endpoints")),
    el("div", { class: "panel" },
      el("h2", {}, e.name || e.id),
      el("p", { class: "mono wrap" }, e.url),
      el("p", {}, "Events: ", (e.events || []).join(", "), " · circuit ", statusBadge(e.circuit_state), " · ", e.consecutive_failures, " failures in a row"),
      el("div", { class: "actions" },
        actionButton("Rotate secret", "POST", "/webhooks/{id}/rotate-secret", `/webhooks/${id}/rotate-secret`, {
          id: "rotate-secret", confirm: "Make a new signing secret? The old one keeps signing during the overlap.",
          done: out => el("div", { class: "notice info", role: "status" }, "The new secret, shown this once: ", el("div", { class: "secret" }, out.secret)),
        }),
        actionButton("Send test event", "POST", "/webhooks/{id}/test", `/webhooks/${id}/test`, { id: "test-endpoint", done: () => "A test event was sent." }),
        actionButton("Reset circuit", "POST", "/webhooks/{id}/circuit/reset", `/webhooks/${id}/circuit/reset`, { id: "reset-endpoint-circuit" }))),
    el("h2", {}, "Deliveries"),
    table(["Event", "Status", { label: "Attempts", num: true }, { label: "Answer", num: true }, "Error or response", "Next attempt", "Created", ""], rows, "No delivery yet."),
    pager(`#/webhooks/${id}`, deliveries.pagination),
  ];
}

async function deadLettersPage() {
  const flows = await api("GET", "/flows").then(r => r.data).catch(() => []);
  const perFlow = await Promise.all(flows.map(f => api("GET", `/dead-letters?flow=${encodeURIComponent(f.name)}`).then(r => r.data).catch(() => [])));
  const webhookDead = await api("GET", "/dead-letters?limit=100").then(r => r.data).catch(() => []);
  const replay = id => actionButton("Replay", "POST", "/dead-letters/{id}/replay", `/dead-letters/${id}/replay`, { id: "replay", done: () => "Replayed." });
  const flowRows = perFlow.flat().map(d => el("tr", { "data-dead-letter": d.id },
    el("td", {}, d.flow), el("td", {}, d.step || "–"), el("td", { class: "wrap" }, d.error),
    el("td", {}, [...new Set((d.accepted || []).flat())].join(", ") || "none"),
    el("td", {}, jsonDetails("message", d.message)), el("td", { class: "num" }, d.attempts), el("td", {}, when(d.created_at)), el("td", {}, replay(d.id))));
  const hookRows = webhookDead.map(d => el("tr", { "data-dead-letter": d.id },
    el("td", {}, el("a", { href: `#/webhooks/${d.endpoint_id}` }, d.endpoint_id.slice(0, 8))), el("td", {}, d.event_type),
    el("td", { class: "wrap" }, d.error_message || `answered ${d.response_status_code}`), el("td", { class: "num" }, d.attempt_count),
    el("td", {}, when(d.updated_at)), el("td", {}, replay(d.id))));
  return [
    el("h2", {}, "Flow messages"),
    table(["Flow", "Step", "Error", "Accepted by", "Message", { label: "Attempts", num: true }, "When", ""], flowRows, "No flow message is in a dead-letter queue."),
    el("p", { class: "who" }, "A replay sends a message only to the sinks that have not accepted it."),
    el("h2", {}, "Webhook deliveries"),
    table(["Endpoint", "Event", "Last error", { label: "Attempts", num: true }, "When", ""], hookRows, "No delivery ran out of attempts."),
  ];
}

async function flowsPage(params) {
  if (params[0]) return flowDetail(params[0]);
  const { data } = await api("GET", "/flows");
  const rows = data.map(f => el("tr", { "data-flow": f.name },
    el("td", {}, el("a", { href: `#/flows/${encodeURIComponent(f.name)}` }, f.name), el("div", { class: "who" }, `${f.source} → ${(f.steps || []).map(s => s.name).join(" → ") || "…"} → ${(f.sinks || []).join(", ")}`)),
    el("td", { "data-state": f.state }, ...flowState(f)),
    el("td", { class: "num" }, f.counters.received), el("td", { class: "num" }, f.counters.delivered),
    el("td", { class: "num" }, f.dead_letters), el("td", { class: "num" }, f.rates.received_per_second.toFixed(1)),
    el("td", { class: "wrap" }, f.last_error ? `${f.last_error.step}: ${f.last_error.error}` : "–"),
    el("td", { class: "actions" }, ["running", "starting", "standby"].includes(f.state)
      ? actionButton("Stop", "POST", "/flows/{name}/stop", `/flows/${encodeURIComponent(f.name)}/stop`, { id: "stop-flow", class: "danger", done: () => `${f.name} stopped.` })
      : actionButton("Start", "POST", "/flows/{name}/start", `/flows/${encodeURIComponent(f.name)}/start`, { id: "start-flow", done: () => `${f.name} started.` }))));
  return [table(["Flow", "State", { label: "Received", num: true }, { label: "Delivered", num: true }, { label: "Dead letters", num: true }, { label: "In/s", num: true }, "Last error", ""], rows,
    "No flow is configured.")];
}

async function flowDetail(name) {
  const [f, logs] = await Promise.all([api("GET", `/flows/${encodeURIComponent(name)}`), api("GET", `/flows/${encodeURIComponent(name)}/logs?limit=100`)]);
  const rows = logs.data.map(l => el("tr", {},
    el("td", {}, when(l.time)), el("td", {}, statusBadge(l.outcome)), el("td", { class: "mono" }, l.message_id),
    el("td", {}, (l.sinks || []).join(", ") || "–"), el("td", { class: "wrap" }, l.error ? `${l.step}: ${l.error}` : "–"),
    el("td", { class: "num" }, ms(l.duration_ms)), el("td", {}, l.payload ? jsonDetails("payload", l.payload) : "–")));
  const c = f.counters;
  return [
    el("p", {}, el("a", { href: "#/flows" }, "← all flows")),
    el("div", { class: "cards" }, card("State", el("span", {}, ...flowState(f))), card("Received", c.received), card("Delivered", c.delivered), card("Filtered", c.filtered),
      card("Dead letters", f.dead_letters), card("Retries", c.retries), card("In flight", `${f.in_flight} / ${f.max_in_flight}`)),
    el("h2", {}, "Recent messages"),
    table(["When", "Outcome", "Message", "Sinks", "Error", { label: "Took", num: true }, "Payload"], rows, "No message yet."),
  ];
}

async function workflowsPage(params) {
  if (params[0] === "runs" && params[1]) return workflowRun(params[1]);
  if (params[0]) return workflowRuns(params[0], pageParam(params, 1));
  const { data } = await api("GET", "/workflows");
  const rows = data.map(w => el("tr", {},
    el("td", {}, el("a", { href: `#/workflows/${encodeURIComponent(w.name)}` }, w.name)),
    el("td", {}, (w.triggers || []).join(", ") || "manual"),
    el("td", {}, (w.steps || []).join(" → ")),
    el("td", {}, Object.entries(w.runs || {}).map(([s, n]) => el("span", {}, statusBadge(`${s} ${n}`.trim()), " ")))));
  return [table(["Workflow", "Triggers", "Steps", "Runs"], rows, "No workflow is configured.")];
}

async function workflowRuns(name, page) {
  const { data, pagination } = await api("GET", `/workflows/${encodeURIComponent(name)}/runs?limit=50&page=${page}`);
  const rows = data.map(r => el("tr", { "data-run": r.id },
    el("td", {}, el("a", { href: `#/workflows/runs/${r.id}` }, r.id)), el("td", {}, statusBadge(r.status)),
    el("td", {}, r.trigger), el("td", {}, when(r.created_at)), el("td", {}, when(r.finished_at)), el("td", { class: "wrap" }, r.error || "–")));
  return [el("p", {}, el("a", { href: "#/workflows" }, "← all workflows")), el("h2", {}, name), table(["Run", "Status", "Trigger", "Started", "Finished", "Error"], rows, "No run yet."),
    pager(`#/workflows/${encodeURIComponent(name)}`, pagination)];
}

async function workflowRun(id) {
  const r = await api("GET", `/workflows/runs/${id}`);
  const rows = (r.steps || []).map(s => el("tr", { "data-step": s.id },
    el("td", {}, el("strong", {}, s.id)), el("td", {}, statusBadge(s.status)), el("td", { class: "num" }, s.attempts),
    el("td", { class: "num" }, ms(s.duration_ms)), el("td", { class: "wrap" }, s.error || "–"),
    el("td", {}, jsonDetails("input", s.input)), el("td", {}, jsonDetails("output", s.output))));
  const finished = ["completed", "failed", "cancelled", "stopped"].includes(r.status);
  return [
    el("p", {}, el("a", { href: `#/workflows/${encodeURIComponent(r.workflow)}` }, `← runs of ${r.workflow}`)),
    el("div", { class: "panel" },
      el("h2", {}, r.id),
      el("p", {}, statusBadge(r.status), ` · ${r.workflow} · started `, when(r.started_at || r.created_at), r.error ? ` · ${r.error}` : ""),
      el("div", { class: "actions" },
        finished ? null : actionButton("Cancel", "POST", "/workflows/runs/{id}/cancel", `/workflows/runs/${id}/cancel`, { id: "cancel-run", class: "danger", confirm: "Cancel this run? Completed steps are compensated." }),
        r.status === "failed" ? actionButton("Retry", "POST", "/workflows/runs/{id}/retry", `/workflows/runs/${id}/retry`, { id: "retry-run" }) : null),
      el("div", {}, jsonDetails("input", r.input), jsonDetails("output", r.output))),
    el("h2", {}, "Steps"),
    table(["Step", "Status", { label: "Attempts", num: true }, { label: "Took", num: true }, "Error", "Input", "Output"], rows, "No step has run yet."),
  ];
}

async function jobsPage() {
  const { data } = await api("GET", "/jobs");
  const rows = data.map(j => el("tr", { "data-job": j.name },
    el("td", {}, el("strong", {}, j.name)), el("td", {}, j.every ? `every ${j.every}` : j.cron || j.schedule || "–"),
    el("td", {}, j.runs), el("td", {}, when(j.next_run)),
    el("td", {}, j.last_run ? [statusBadge(j.last_run.status), " ", when(j.last_run.finished_at || j.last_run.started_at)] : "never"),
    el("td", {}, actionButton("Run now", "POST", "/jobs/{name}/trigger", `/jobs/${encodeURIComponent(j.name)}/trigger`, { id: "trigger-job", done: () => `${j.name} started.` }))));
  return [table(["Job", "Schedule", "Does", "Next run", "Last run", ""], rows, "No job is configured.")];
}

function eventsPage() {
  const list = el("ul", { class: "events", id: "event-list" });
  const pattern = el("input", { placeholder: "type patterns, e.g. order.*,junction.flow.*", size: 40, id: "event-filter" });
  const status = el("span", { class: "who", id: "event-status" }, "connecting…");
  // The stream is read with fetch, not EventSource: every event arrives as its own SSE
  // event name (its type), which EventSource only hands to listeners of that exact name.
  let lastID = "";
  const connect = async () => {
    if (state.stream) state.stream.abort();
    const ctrl = new AbortController();
    state.stream = ctrl;
    const q = pattern.value.trim() ? `?types=${encodeURIComponent(pattern.value.trim())}` : "";
    try {
      const headers = { Accept: "text/event-stream" };
      if (lastID) headers["Last-Event-ID"] = lastID; // the server resumes what was missed
      const resp = await fetch(`/events/stream${q}`, { credentials: "same-origin", signal: ctrl.signal, headers });
      if (!resp.ok) {
        const p = await resp.json().catch(() => ({}));
        status.textContent = `refused: ${p.detail || resp.status}`;
        return;
      }
      status.textContent = "live";
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let pending = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pending += value;
        let cut;
        while ((cut = pending.indexOf("\n\n")) >= 0) {
          const block = pending.slice(0, cut);
          pending = pending.slice(cut + 2);
          const data = block.split("\n").filter(l => l.startsWith("data:")).map(l => l.slice(5).trim()).join("\n");
          const id = block.split("\n").find(l => l.startsWith("id:"));
          if (id) lastID = id.slice(3).trim();
          if (block.split("\n").some(l => l === "event: overflow")) { status.textContent = "fell behind: reconnecting"; continue; }
          if (data) show(data);
        }
      }
      status.textContent = "disconnected: reconnecting";
    } catch (err) {
      if (ctrl.signal.aborted) return;
      status.textContent = "disconnected: reconnecting";
    }
    if (state.stream === ctrl) setTimeout(connect, 2000);
  };
  const show = (text) => {
    let e;
    try { e = JSON.parse(text); } catch { return; }
    if (e.type === undefined) return;
    list.prepend(el("li", { "data-event-type": e.type },
      el("span", { class: "who" }, new Date(e.time).toLocaleTimeString(), " "), el("span", { class: "type" }, e.type),
      el("span", { class: "who" }, " from ", e.source || "–", " "),
      el("div", { class: "mono wrap" }, preview(e.data))));
    while (list.children.length > 500) list.lastChild.remove();
  };
  setTimeout(connect, 0);
  return [
    el("div", { class: "toolbar" }, pattern, el("button", { onclick: connect }, "Apply"), el("button", { onclick: () => list.replaceChildren() }, "Clear"), el("span", { class: "grow" }), status),
    el("div", { class: "panel" }, list),
  ];
}

async function reportsPage() {
  let report;
  try {
    // From a whole hour: the server then reads its hourly sums instead of every minute.
    const hour = 3600e3;
    const from = new Date(Math.floor((Date.now() - 24 * hour) / hour) * hour).toISOString();
    report = await api("GET", `/reports?from=${encodeURIComponent(from)}&step=1h`);
  } catch (err) {
    if (err.status === 404) return [el("div", { class: "notice info" }, "Reports are not available from this server.")];
    throw err;
  }
  return renderReport(report);
}

// renderReport draws requests and errors per step for each operation, and the totals.
function renderReport(report) {
  const rows = report.data || [];
  if (!rows.length) return [el("div", { class: "empty panel" }, "No call was made in the last 24 hours.")];
  const out = [];
  for (const r of rows) {
    const buckets = r.buckets || [];
    out.push(el("div", { class: "panel" },
      el("h2", { "data-series": `${r.integration}.${r.operation}` }, r.operation === "*" ? `${r.integration} (all operations)` : `${r.integration}.${r.operation}`),
      el("div", { class: "cards" }, card("Requests", r.total.requests), card("Error rate", pct(r.total.error_rate)),
        card("Average", ms(r.total.latency_avg_ms)), card("p50", ms(r.total.latency_p50_ms)), card("p99", ms(r.total.latency_p99_ms)),
        card(r.total.availability === null ? "Availability (no objective)" : "Availability", r.total.availability === null ? "–" : pct(r.total.availability)),
        card("Cost", r.total.cost ? r.total.cost.toFixed(4) : "–")),
      barChart(buckets)));
  }
  return out;
}

function barChart(buckets) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("viewBox", "0 0 800 220");
  svg.setAttribute("role", "img");
  const max = Math.max(1, ...buckets.map(b => b.requests));
  const w = 760 / Math.max(1, buckets.length);
  buckets.forEach((b, i) => {
    const h = 180 * b.requests / max, he = 180 * b.errors / max;
    const x = 30 + i * w;
    for (const [height, color] of [[h, "#8fa9ea"], [he, "#d9534f"]]) {
      const r = document.createElementNS(ns, "rect");
      r.setAttribute("x", x + 1); r.setAttribute("width", Math.max(1, w - 2));
      r.setAttribute("y", 190 - height); r.setAttribute("height", height); r.setAttribute("fill", color);
      svg.append(r);
    }
    if (i % Math.ceil(buckets.length / 8) === 0) {
      const t = document.createElementNS(ns, "text");
      t.setAttribute("x", x); t.setAttribute("y", 210);
      t.textContent = new Date(b.start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      svg.append(t);
    }
  });
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", 0); label.setAttribute("y", 12); label.textContent = String(max);
  svg.append(label);
  return el("div", {}, svg, el("div", { class: "legend" }, el("span", { class: "requests" }, "requests"), el("span", { class: "errors" }, "errors")));
}

// ---- Shell ---------------------------------------------------------------------------

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const page = pages.find(p => p.id === parts[0]) || pages[0];
  return { page, params: parts.slice(1) };
}

async function refresh() {
  const { page, params } = route();
  const content = document.getElementById("content");
  if (!content || page.live) return;
  try {
    const nodes = await page.render(params);
    content.replaceChildren(...nodes);
  } catch (err) {
    if (err instanceof APIError && err.status === 401) return;
    content.replaceChildren(el("div", { class: "notice error", role: "alert" }, `Could not load ${page.title}: ${err.message}`));
  }
}

function signInView(message) {
  const input = el("input", { type: "password", id: "token", name: "token", autocomplete: "current-password", placeholder: "jct_…", required: true });
  const error = el("div", { id: "signin-error" }, message ? el("div", { class: "notice error", role: "alert" }, message) : null);
  const form = el("form", {
    class: "signin", method: "post", action: "/console/session", onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        state.me = await api("POST", "/console/session", { token: input.value });
        render();
      } catch (err) {
        error.replaceChildren(el("div", { class: "notice error", role: "alert" }, err.message));
      }
    },
  },
  el("h1", {}, "Junction"),
  el("p", {}, "Sign in with an API token (the admin token printed at first start, or one from junction token create). It is kept in an HttpOnly cookie, not by this page."),
  error,
  el("label", { for: "token" }, "API token"), input,
  el("button", { class: "primary", type: "submit" }, "Sign in"));
  return form;
}

async function signOut() {
  try { await api("DELETE", "/console/session"); } catch { /* the cookie is gone either way */ }
  state.me = null;
  render();
}

function render() {
  const app = document.getElementById("app");
  clearInterval(state.timer);
  if (state.stream) { state.stream.abort(); state.stream = null; }
  if (!state.me) {
    app.replaceChildren(signInView());
    return;
  }
  const { page } = route();
  const nav = el("nav", { class: "sidebar", "aria-label": "Pages" }, el("div", { class: "brand" }, "Junction"),
    pages.map(p => el("a", { href: `#/${p.id}`, class: p === page ? "active" : "" }, p.title)),
    el("div", { class: "sep" }), el("a", { href: "/docs", target: "_blank" }, "API reference"));
  const main = el("main", {},
    el("div", { class: "topbar" }, el("h1", {}, page.title),
      el("span", { class: "who", id: "who" }, `${state.me.name || "unnamed token"} · ${state.me.role}`),
      el("button", { onclick: signOut, id: "signout" }, "Sign out")),
    el("div", { id: "flash" }),
    el("div", { id: "content" }, page.live ? page.render(route().params) : el("div", { class: "empty" }, "Loading…")));
  app.replaceChildren(el("div", { class: "layout" }, nav, main));
  if (!page.live) {
    refresh();
    state.timer = setInterval(() => { if (!document.hidden) refresh(); }, 5000);
  }
}

async function start() {
  try {
    const doc = await fetch("/openapi.json").then(r => r.json());
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) state.docRoles[method + " " + path] = op["x-junction-role"];
    }
  } catch { /* without it every action is offered; the API still refuses what it must */ }
  try {
    state.me = await api("GET", "/console/me");
  } catch {
    state.me = null;
  }
  window.addEventListener("hashchange", render);
  render();
}

start();
