// esp-at-sim dashboard: a view of the control API (HTTP + the /api/events WebSocket).
// The token comes from the URL fragment (#token=...), which the browser never sends to a server.

const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
const MAX_ENTRIES = 4000;
const HEAP_POINTS = 180;

const modules = new Map(); // name -> {el, entries: [], heap: [], state}
let faults = [];
let world = {};

// ------------------------------------------------------------------ helpers
async function api(method, path, body) {
  const opts = { method, headers: { Authorization: `Bearer ${token}` } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(data.error || `${resp.status}`);
  return data;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

// "AT\r\n" as typed in the send box -> bytes as hex
function escapedToHex(text) {
  const out = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length) {
      const n = text[i + 1];
      const simple = { r: 13, n: 10, t: 9, "0": 0, "\\": 92 }[n];
      if (simple !== undefined) { out.push(simple); i++; continue; }
      if (n === "x" && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
        out.push(parseInt(text.slice(i + 2, i + 4), 16)); i += 3; continue;
      }
    }
    for (const b of new TextEncoder().encode(c)) out.push(b);
  }
  return out.map((b) => b.toString(16).padStart(2, "0")).join("");
}

function valueText(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function table(obj) {
  const t = el("table");
  if (Array.isArray(obj)) {
    obj.forEach((item, i) => {
      const isObj = item && typeof item === "object" && !Array.isArray(item);
      const head = isObj ? item.ssid || item.name || item.id || String(i) : String(i);
      const body = isObj
        ? Object.entries(item).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${valueText(v)}`).join(", ")
        : valueText(item);
      t.append(el("tr", {}, el("th", { text: String(head) }), el("td", { text: body })));
    });
  } else {
    for (const [k, v] of Object.entries(obj || {})) {
      t.append(el("tr", {}, el("th", { text: k }), el("td", { text: valueText(v) })));
    }
  }
  return t;
}

// ---------------------------------------------------------------- modules
function moduleCard(name) {
  let m = modules.get(name);
  if (m) return m;
  const frag = document.getElementById("module-template").content.cloneNode(true);
  const card = frag.querySelector("article");
  card.dataset.name = name;
  card.id = `module-${name}`;
  card.querySelector(".module-name").textContent = name;
  m = { el: card, entries: [], heap: [], state: {} };
  modules.set(name, m);
  const log = card.querySelector(".uart-log");
  const rerender = () => renderLog(m);
  card.querySelector(".uart-filter").addEventListener("input", rerender);
  for (const cls of ["show-in", "show-out", "show-log"]) card.querySelector(`.${cls}`).addEventListener("change", rerender);
  card.querySelector(".uart-clear").addEventListener("click", () => { m.entries = []; log.textContent = ""; });
  card.querySelector(".send-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = card.querySelector(".send-input");
    let hex = escapedToHex(input.value);
    if (card.querySelector(".send-crlf").checked) hex += "0d0a";
    if (!hex) return;
    try {
      await api("POST", `/api/modules/${encodeURIComponent(name)}/uart`, { hex });
      input.value = "";
    } catch (e) { note(m, `send failed: ${e.message}`); }
  });
  for (const b of card.querySelectorAll(".quick-faults button")) {
    b.addEventListener("click", async () => {
      try {
        if (b.dataset.action === "reset") {
          await api("POST", `/api/modules/${encodeURIComponent(name)}/reset`, { reason: b.dataset.reason });
        } else {
          const params = { ...JSON.parse(b.dataset.params || "{}") };
          const spec = faults.find((f) => f.name === b.dataset.fault);
          if (spec && "module" in spec.params) params.module = name;
          if (spec && "ssid" in spec.params && !params.ssid) params.ssid = (m.state.wifi || {}).ssid || firstApSsid();
          await api("POST", `/api/faults/${b.dataset.fault}`, params);
        }
        note(m, `${b.textContent} ✓`);
      } catch (e) { note(m, `${b.textContent}: ${e.message}`); }
    });
  }
  document.getElementById("modules").append(card);
  updateFaultButtons();
  return m;
}

function firstApSsid() {
  for (const v of Object.values(world)) {
    if (Array.isArray(v)) for (const item of v) if (item && item.ssid) return item.ssid;
  }
  return "";
}

function note(m, text) {
  addEntries(m, [{ seq: 0, t: world.time || 0, dir: "note", text }]);
}

function passes(m, e) {
  const c = m.el;
  if (e.dir !== "note" && !c.querySelector(`.show-${e.dir}`)?.checked) return false;
  const f = c.querySelector(".uart-filter").value;
  if (!f) return true;
  if (f.length > 2 && f.startsWith("/") && f.endsWith("/")) {
    try { return new RegExp(f.slice(1, -1)).test(e.text); } catch { return true; }
  }
  return e.text.includes(f);
}

function entryNode(e) {
  const arrow = { in: ">>", out: "<<", log: "log|", note: "!!" }[e.dir] || e.dir;
  const line = el("span", { class: e.dir === "note" ? "note" : e.dir });
  line.append(el("span", { class: "t", text: `${Number(e.t).toFixed(3)} ` }), `${arrow} ${e.text}\n`);
  return line;
}

// One display line per line of UART text: a chunk "A\\r\\nB\\r\\n" shows as two lines.
function splitLines(entries) {
  const out = [];
  for (const e of entries) {
    const parts = e.dir === "note" ? [e.text] : e.text.split(/(?<=\\n)/);
    for (const p of parts) if (p) out.push({ ...e, text: p, truncated: 0 });
    if (e.truncated) out.push({ ...e, dir: "note", text: `… ${e.truncated} more bytes of this chunk not shown` });
  }
  return out;
}

function addEntries(m, chunks) {
  const entries = splitLines(chunks);
  m.entries.push(...entries);
  if (m.entries.length > MAX_ENTRIES) m.entries.splice(0, m.entries.length - MAX_ENTRIES);
  const log = m.el.querySelector(".uart-log");
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  for (const e of entries) if (passes(m, e)) log.append(entryNode(e));
  while (log.childNodes.length > MAX_ENTRIES) log.firstChild.remove();
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function renderLog(m) {
  const log = m.el.querySelector(".uart-log");
  log.textContent = "";
  for (const e of m.entries) if (passes(m, e)) log.append(entryNode(e));
  log.scrollTop = log.scrollHeight;
}

const SECTION_ORDER = ["module", "wifi", "netif", "links", "mqtt", "ble", "heap", "nvs"];

function renderState(snap) {
  const m = moduleCard(snap.name);
  m.state = snap;
  const mod = snap.module || {};
  m.el.querySelector(".module-chip").textContent = `${mod.chip_name || ""} ${mod.module_name || ""}`;
  const badge = m.el.querySelector(".module-state");
  badge.textContent = mod.powered ? (mod.busy ? "busy" : mod.at_state || "on") : "off";
  badge.classList.toggle("off", !mod.powered);
  const panels = m.el.querySelector(".state-panels");
  const open = new Set([...panels.querySelectorAll("details[open]")].map((d) => d.dataset.section));
  const first = panels.childElementCount === 0;
  panels.textContent = "";
  const names = Object.keys(snap).filter((k) => k !== "name");
  names.sort((a, b) => (SECTION_ORDER.indexOf(a) + 1 || 99) - (SECTION_ORDER.indexOf(b) + 1 || 99));
  for (const name of names) {
    const d = el("details", { "data-section": name, class: `section-${name}` }, el("summary", { text: name }), table(snap[name]));
    if (first ? name !== "nvs" : open.has(name)) d.open = true;
    panels.append(d);
  }
  if (snap.heap) {
    m.heap.push(snap.heap.free);
    if (m.heap.length > HEAP_POINTS) m.heap.shift();
    drawHeap(m);
  }
}

function drawHeap(m) {
  const c = m.el.querySelector(".heap-graph");
  const g = c.getContext("2d");
  const { width: w, height: h } = c;
  g.clearRect(0, 0, w, h);
  const total = (m.state.heap || {}).total || Math.max(...m.heap);
  const lo = Math.min(...m.heap) * 0.95;
  const span = Math.max(1, total - lo);
  g.strokeStyle = "#0b6bcb";
  g.lineWidth = 1.5;
  g.beginPath();
  m.heap.forEach((v, i) => {
    const x = (i / (HEAP_POINTS - 1)) * w;
    const y = h - ((v - lo) / span) * (h - 6) - 3;
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.stroke();
  const heap = m.state.heap || {};
  m.el.querySelector(".heap-caption").textContent =
    `free heap ${heap.free} B (min ${heap.min_free} B, largest block ${heap.largest_block} B)`;
}

// ------------------------------------------------------------------ world
function renderWorld(view) {
  world = view;
  document.getElementById("clock").textContent = `t = ${Number(view.time).toFixed(1)} s` +
    (view.time_scale && view.time_scale !== 1 ? ` ×${view.time_scale}` : "");
  const box = document.getElementById("world-sections");
  box.textContent = "";
  for (const [k, v] of Object.entries(view)) {
    if (["time", "time_scale", "seed", "modules", "faults"].includes(k)) continue;
    box.append(el("details", { open: "", class: `world-${k}` }, el("summary", { text: k }), table(v)));
  }
  drawMap(view);
}

function drawMap(view) {
  // Nodes: modules and every named thing the world sections list (APs, BLE peers...).
  const nodes = [];
  for (const name of view.modules || []) nodes.push({ id: name, kind: "module" });
  for (const [section, items] of Object.entries(view)) {
    if (!Array.isArray(items) || section === "modules" || section === "faults") continue;
    for (const it of items) {
      if (!it || typeof it !== "object") continue;
      const id = it.ssid || it.name || it.address;
      if (id) nodes.push({ id, kind: section, x: it.x, y: it.y, rssi: it.rssi });
    }
  }
  const W = 280, H = 200;
  const positioned = nodes.filter((n) => typeof n.x === "number" && typeof n.y === "number");
  if (positioned.length) {
    const xs = positioned.map((n) => n.x), ys = positioned.map((n) => n.y);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    for (const n of positioned) {
      n.px = 30 + ((n.x - x0) / Math.max(1, x1 - x0)) * (W - 60);
      n.py = 30 + ((n.y - y0) / Math.max(1, y1 - y0)) * (H - 60);
    }
  }
  const free = nodes.filter((n) => n.px === undefined);
  free.forEach((n, i) => {
    const a = (2 * Math.PI * i) / Math.max(1, free.length) - Math.PI / 2;
    n.px = W / 2 + Math.cos(a) * (W / 2 - 40);
    n.py = H / 2 + Math.sin(a) * (H / 2 - 30);
  });
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const line = (a, b, color, label) => {
    const l = document.createElementNS(ns, "line");
    Object.entries({ x1: a.px, y1: a.py, x2: b.px, y2: b.py, stroke: color, "stroke-width": 1.5 }).forEach(([k, v]) => l.setAttribute(k, v));
    svg.append(l);
    if (label) {
      const t = document.createElementNS(ns, "text");
      t.setAttribute("x", (a.px + b.px) / 2); t.setAttribute("y", (a.py + b.py) / 2 - 3);
      t.setAttribute("font-size", "9"); t.setAttribute("fill", "#6b7580"); t.textContent = label;
      svg.append(t);
    }
  };
  // Links: a module's Wi-Fi AP, its BLE connections and its TCP links to other modules.
  for (const [name, m] of modules) {
    const me = byId.get(name);
    if (!me) continue;
    const wifi = m.state.wifi || {};
    const ap = byId.get(wifi.ssid);
    if (ap && (wifi.connected || wifi.state === "connected" || wifi.ip)) line(me, ap, "#0b6bcb", wifi.rssi !== undefined ? `${wifi.rssi} dBm` : "");
    for (const c of (m.state.ble || {}).connections || []) {
      const peer = byId.get(c.peer || c.name || c.address);
      if (peer) line(me, peer, "#7c3aed", c.rssi !== undefined ? `${c.rssi} dBm` : "");
    }
    for (const l of m.state.links || []) {
      const peer = [...modules.entries()].find(([, o]) => Object.values(o.state.netif || {}).some((i) => i.ip === l.remote_ip));
      if (peer) line(me, byId.get(peer[0]), "#137a3a", "");
    }
  }
  for (const n of nodes) {
    const g = document.createElementNS(ns, "g");
    g.setAttribute("class", `node node-${n.kind}`);
    const shape = document.createElementNS(ns, n.kind === "module" ? "rect" : "circle");
    if (n.kind === "module") {
      Object.entries({ x: n.px - 9, y: n.py - 7, width: 18, height: 14, rx: 3, fill: "#20262d" }).forEach(([k, v]) => shape.setAttribute(k, v));
    } else {
      Object.entries({ cx: n.px, cy: n.py, r: 7, fill: n.kind.includes("ble") ? "#7c3aed" : "#0b6bcb" }).forEach(([k, v]) => shape.setAttribute(k, v));
    }
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", n.px); t.setAttribute("y", n.py + 20); t.setAttribute("font-size", "10");
    t.setAttribute("text-anchor", "middle"); t.textContent = n.id;
    g.append(shape, t);
    svg.append(g);
  }
  const map = document.getElementById("world-map");
  map.textContent = "";
  map.append(svg);
}

// ----------------------------------------------------------------- faults
function renderFaults(list) {
  faults = list;
  const sel = document.getElementById("fault-name");
  const current = sel.value;
  sel.textContent = "";
  for (const f of faults) sel.append(el("option", { value: f.name, text: f.name }));
  if (current) sel.value = current;
  renderFaultParams();
  updateFaultButtons();
}

function updateFaultButtons() {
  const names = new Set(faults.map((f) => f.name));
  for (const b of document.querySelectorAll(".quick-faults button[data-fault]")) b.hidden = !names.has(b.dataset.fault);
}

function renderFaultParams() {
  const f = faults.find((x) => x.name === document.getElementById("fault-name").value);
  const box = document.getElementById("fault-params");
  box.textContent = "";
  document.getElementById("fault-description").textContent = f ? f.description : "";
  if (!f) return;
  for (const [p, spec] of Object.entries(f.params)) {
    const input = el("input", { name: p, "data-type": spec.type, placeholder: spec.default !== undefined && spec.default !== null ? String(spec.default) : "" });
    if (p === "module" && modules.size) input.value = [...modules.keys()][0];
    box.append(el("label", { text: `${p}${spec.required ? " *" : ""} — ${spec.description}` }), input);
  }
}

async function injectFromForm(ev) {
  ev.preventDefault();
  const name = document.getElementById("fault-name").value;
  const params = {};
  for (const input of document.querySelectorAll("#fault-params input")) {
    if (input.value === "") continue;
    const t = input.dataset.type;
    params[input.name] = t === "integer" || t === "number" ? Number(input.value) : t === "boolean" ? input.value === "true" : input.value;
  }
  const out = document.getElementById("fault-result");
  try {
    await api("POST", `/api/faults/${name}`, params);
    out.textContent = `${name}: injected`;
  } catch (e) { out.textContent = `${name}: ${e.message}`; }
}

// ----------------------------------------------------------------- events
function connect() {
  const status = document.getElementById("status");
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/api/events?token=${encodeURIComponent(token)}`);
  ws.onopen = () => { status.textContent = "live"; status.className = "status online"; };
  ws.onclose = () => {
    status.textContent = "disconnected — retrying"; status.className = "status offline";
    setTimeout(connect, 1000);
  };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "hello" || msg.type === "state") {
      renderWorld(msg.world);
      for (const snap of msg.modules) renderState(snap);
      drawMap(msg.world); // links need the module states just rendered
      if (msg.faults) renderFaults(msg.faults);
    } else if (msg.type === "uart") {
      const m = moduleCard(msg.module);
      if (msg.skipped) note(m, `… ${msg.skipped} bytes not shown (too fast to display)`);
      addEntries(m, msg.entries);
    } else if (msg.type === "module") {
      if (["boot", "reset", "stuck"].includes(msg.event)) {
        note(moduleCard(msg.module), `${msg.event} ${JSON.stringify(msg.fields)}`);
        ws.send(JSON.stringify({ type: "snapshot" }));
      }
    }
  };
}

document.getElementById("fault-name").addEventListener("change", renderFaultParams);
document.getElementById("fault-form").addEventListener("submit", injectFromForm);
if (!token) {
  document.getElementById("status").textContent = "no token in the URL (#token=...)";
} else {
  connect();
}
