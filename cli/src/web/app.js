// The esimhooks console: one page, hash routes, data from /api/*. No libraries, so it works offline; every
// value is inserted as text (never as HTML), because stored payloads are untrusted.
"use strict";

const main = document.getElementById("main");
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    // Through the CSSOM: the policy refuses style attributes (style-src 'self').
    else if (name === "style") Object.assign(node.style, value);
    else if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    node.append(child instanceof Node ? child : document.createTextNode(child === null || child === undefined ? "" : String(child)));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  return node;
}

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function table(headers, rows, rowClass) {
  return el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((cells) => el("tr", { class: rowClass }, cells.map((c) => el("td", {}, c))))));
}

function time(t) { return t ? t.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", "Z") : "-"; }

function eventLink(provider, key, label) {
  return el("a", { class: "event-link", href: `#/event?provider=${encodeURIComponent(provider)}&key=${encodeURIComponent(key)}` }, label || key);
}

// A line chart: series of [x (ms), y] points, one colour each, with the x range labelled.
function lineChart(id, series, { width = 760, height = 220, yMax, marker } = {}) {
  const chart = svg("svg", { id, width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  const points = series.flatMap((s) => s.points);
  if (points.length === 0) return chart;
  const xs = points.map((p) => p[0]).concat(marker ? [marker] : []);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const top = yMax || Math.max(1, ...points.map((p) => p[1]));
  const x = (v) => 40 + (x1 === x0 ? 0 : ((v - x0) / (x1 - x0)) * (width - 60));
  const y = (v) => height - 25 - (v / top) * (height - 45);
  chart.append(svg("line", { x1: 40, y1: y(0), x2: width - 20, y2: y(0), stroke: "#9ca3af" }));
  const label = (text, lx, ly) => { const t = svg("text", { x: lx, y: ly, "font-size": 11, fill: "#4b5563" }); t.textContent = text; chart.append(t); };
  label(String(top), 4, y(top) + 4);
  label("0", 4, y(0) + 4);
  label(time(new Date(x0).toISOString()), 40, height - 6);
  label(time(new Date(x1).toISOString()), width - 170, height - 6);
  series.forEach((s, i) => {
    const path = s.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    chart.append(svg("polyline", { points: path, fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 2, class: "series", "data-name": s.name }));
    for (const p of s.points) chart.append(svg("circle", { cx: x(p[0]), cy: y(p[1]), r: 3, fill: COLORS[i % COLORS.length] }));
  });
  if (marker) {
    chart.append(svg("line", { x1: x(marker), y1: 10, x2: x(marker), y2: height - 25, stroke: "#b91c1c", "stroke-dasharray": "4 3", class: "validity-end" }));
    label("plan ends", Math.min(x(marker) + 4, width - 60), 20);
  }
  return chart;
}

async function overview(params) {
  const since = params.get("since") || "24h";
  const data = await api(`/api/overview?since=${encodeURIComponent(since)}`);
  const totals = Object.entries(data.providers);
  const sum = (field) => totals.reduce((n, [, s]) => n + s[field], 0);
  // Received and duplicates are counted by the local store; the deployed table leaves them to metrics.
  const counted = totals.every(([, s]) => s.duplicates !== undefined);
  const maybe = (v) => (v === undefined ? "-" : v);
  const hours = data.hours.map((h) => Date.parse(h));
  const series = Object.entries(data.series).map(([name, counts]) => ({ name, points: counts.map((c, i) => [hours[i], c]) }));
  main.replaceChildren(
    el("h1", {}, `Overview since ${time(data.since)}`),
    el("div", { class: "cards" },
      [...(counted ? [["received", "deliveries received"], ["duplicates", "duplicates"]] : []),
        ["stored", "deliveries stored"], ["unrecognized", "unrecognized"], ["schema_drift", "schema drift"], ["conflicts", "conflicts"],
        ["alerts", "alerts raised"], ["notifications_sent", "customers told"], ["notifications_failed", "messages failed"]]
        .map(([field, label]) => el("div", { class: "card", id: `total-${field}` }, el("b", {}, sum(field)), label))),
    el("h2", {}, "Deliveries per provider per hour"),
    lineChart("deliveries-chart", series),
    el("p", {}, series.map((s, i) => el("span", { class: "legend", style: { color: COLORS[i % COLORS.length] } }, `■ ${s.name}`))),
    table(["provider", "received", "stored", "duplicates", "unrecognized", "drift", "conflicts", "alerts", "sent", "told", "failed"],
      totals.map(([p, s]) => [p, maybe(s.received), s.stored, maybe(s.duplicates), s.unrecognized, s.schema_drift, s.conflicts, s.alerts, s.alerts_sent, s.notifications_sent, s.notifications_failed]),
      "provider-row"),
    el("h2", {}, "Deliveries showing schema drift (fix the mapping, then replay: docs/operations.md)"),
    data.drifting.length === 0 ? el("p", {}, "None.") :
      table(["received", "provider", "kind", "flags", "delivery"],
        data.drifting.map((d) => [time(d.received_at), d.provider, d.kind, d.flags.join(", "), eventLink(d.provider, d.dedupe_key)]), "drift-row"));
}

async function esim(params) {
  const q = params.get("q");
  const found = await api(`/api/esim?q=${encodeURIComponent(q)}`);
  const parts = [el("h1", {}, `eSIM ${q}`)];
  for (const e of found) {
    const usage = e.timeline.filter((t) => t.entry === "event" && t.data_left_percent !== undefined)
      .map((t) => [Date.parse(t.at), t.data_left_percent]);
    const end = e.state && e.state.validity && e.state.validity.value && e.state.validity.value.expires_at;
    const s = e.state || {};
    parts.push(
      el("h2", {}, `${e.provider} ${e.key}${e.iccid ? ` (ICCID ${e.iccid})` : ""}`),
      el("p", { class: "esim-summary" },
        `lifecycle ${s.status ? s.status.value.lifecycle : "-"}; data left ${usage.length ? usage[usage.length - 1][1] + "%" : "-"}; plan ends ${time(end)}`),
      lineChart("usage-chart", [{ name: "data left %", points: usage }], { yMax: 100, marker: end ? Date.parse(end) : undefined }),
      table(["time", "entry", "what", "status", "data left", "lifecycle", "ends", "told", ""],
        e.timeline.map((t) => [time(t.at), t.entry, t.what, t.status,
          t.data_left_percent === undefined ? "-" : `${t.data_left_percent}%`, t.lifecycle || "-", time(t.ends_at), t.told || "",
          t.entry === "event" && t.dedupe_key ? eventLink(e.provider, t.dedupe_key, "inspect") : ""]),
        "timeline-row"));
  }
  main.replaceChildren(...parts);
}

async function fleet(params) {
  const query = new URLSearchParams();
  for (const name of ["below", "ending_within", "lifecycle", "provider", "partner", "offset"]) if (params.get(name)) query.set(name, params.get(name));
  const data = await api(`/api/fleet?${query}`);
  const field = (name, placeholder) => el("input", { name, placeholder, value: params.get(name) || "", size: 12 });
  const form = el("form", { class: "filters", id: "fleet-form", onsubmit: (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams(new FormData(ev.target));
    for (const [k, v] of [...next]) if (!v) next.delete(k);
    location.hash = `#/fleet?${next}`;
  } }, field("below", "below %"), field("ending_within", "ends within (24h)"), field("lifecycle", "lifecycle"), field("provider", "provider"), field("partner", "partner"), el("button", {}, "Filter"));
  const offset = Number(params.get("offset") || 0);
  const next = new URLSearchParams(query); next.set("offset", offset + data.limit);
  const shown = data.rows.length ? `eSIMs ${offset + 1}-${offset + data.rows.length}` : "no eSIMs";
  main.replaceChildren(el("h1", {}, `Fleet: ${shown}${data.more ? " and more" : ""}`), form,
    table(["provider", "eSIM", "ICCID", "partner", "lifecycle", "data left", "plan ends", "updated"],
      data.rows.map((r) => [r.provider, el("a", { href: `#/esim?q=${encodeURIComponent(r.iccid || r.key)}` }, r.key), r.iccid || "-",
        r.partner || "-", r.lifecycle || "-", r.data_left_percent === null ? "-" : `${r.data_left_percent}%`, time(r.ends_at), time(r.updated_at)]), "fleet-row"),
    data.more ? el("p", {}, el("a", { href: `#/fleet?${next}`, id: "fleet-next" }, "next page")) : "");
}

async function event(params) {
  const provider = params.get("provider"), key = params.get("key");
  const query = `provider=${encodeURIComponent(provider)}&key=${encodeURIComponent(key)}`;
  const data = await api(`/api/event?${query}`);
  const result = el("div", { id: "replay-result" });
  const confirm = el("button", { id: "replay-confirm", hidden: "", onclick: async () => {
    confirm.hidden = true;
    try {
      const r = await api(`/api/replay?${query}`, { method: "POST", headers: { "x-esimhooks-console": "1" } });
      result.replaceChildren(el("p", { class: "replayed" },
        `Replayed: ${r.result}; normalization ${r.changed_fields.length ? "changed " + r.changed_fields.join(", ") : "unchanged"}.`));
    } catch (e) { result.replaceChildren(el("p", { class: "error" }, e.message)); }
  } }, "Confirm: replay through the current mapping");
  main.replaceChildren(
    el("h1", {}, `${provider} delivery ${key}`),
    el("p", {}, `status ${data.status}; completed ${time(data.completed_at)}`),
    el("p", {}, el("button", { id: "replay-button", onclick: () => { confirm.hidden = false; } }, "Replay…"), " ", confirm),
    result,
    el("div", { class: "side" },
      el("div", {}, el("h2", {}, "Raw payload, byte for byte"), el("pre", { id: "raw" }, data.raw)),
      el("div", {}, el("h2", {}, "Normalized event"), el("pre", { id: "normalized" }, JSON.stringify(data.normalized, null, 2)))));
}

async function conflicts() {
  const data = await api("/api/conflicts");
  main.replaceChildren(el("h1", {}, "Conflicts: a known id with another payload"),
    table(["last seen", "provider", "delivery", "count", "first seen", "payload sha256"],
      data.rows.map((r) => [time(r.last_seen_at), r.provider, eventLink(r.provider, r.dedupe_key), r.count, time(r.first_seen_at), r.payload_sha256]), "conflict-row"));
}

async function partners() {
  const data = await api("/api/partners");
  const parts = [el("h1", {}, "Partner endpoints")];
  if (data.note) parts.push(el("p", {}, data.note));
  for (const p of data.partners) {
    parts.push(el("h2", {}, `${p.id} (${p.name}), scope ${p.scope}`),
      table(["type", "url", "failing since", "disabled"], p.endpoints.map((e) => [e.notification_type, e.url, time(e.failing_since), time(e.disabled_at)]), "endpoint-row"),
      table(["at", "notification", "attempt", "status", "latency", "verdict"],
        p.attempts.map((a) => [time(a.at), a.notification_id, a.attempt, a.status || a.error, `${a.latency_ms} ms`, JSON.stringify(a.verdict)]), "attempt-row"));
  }
  main.replaceChildren(...parts);
}

const ROUTES = { overview, esim, fleet, event, conflicts, partners };

async function route() {
  const [path, query] = (location.hash.slice(2) || "overview").split("?");
  const page = ROUTES[path] || overview;
  try { await page(new URLSearchParams(query || "")); }
  catch (e) { main.replaceChildren(el("p", { class: "error" }, e.message)); }
  document.body.dataset.page = path;
}

document.getElementById("search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = document.getElementById("search-input").value.trim();
  if (q) location.hash = `#/esim?q=${encodeURIComponent(q)}`;
});
window.addEventListener("hashchange", route);
route();
