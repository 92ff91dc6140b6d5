// xscreen officers' workstation: sign in, work the queue, view and review scans. Plain JS, no libraries:
// everything goes through /v1 with the session cookie and the session's CSRF token.
"use strict";
const $ = (id) => document.getElementById(id);
const POLL_MS = 5000;
const PREVIEW_SIDE = 2048;
const VIEW_KEYS = { display: "1", gray: "2", organic: "3", inorganic: "4", high: "5", low: "6" };
const state = { csrf: null, queue: [], scan: null, views: [], view: "display", preview: null, detail: null,
  scale: 1, ox: 0, oy: 0, boxes: [], drawing: false, drag: null, rubber: null, classes: [] };

async function api(method, path, body) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = state.csrf || "";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  if (response.status === 401) { showLogin(); throw new Error("signed out"); }
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error.message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return response.status === 204 ? null : response.json();
}

function showLogin() { $("app").hidden = true; $("login").hidden = false; $("login-name").focus(); }

async function start(session) {
  state.csrf = session.csrf_token;
  $("officer-name").textContent = `${session.officer} (${session.role})`;
  $("login").hidden = true; $("app").hidden = false;
  if (!state.classes.length) {
    const models = await api("GET", "/v1/models");
    state.classes = (models.find((m) => m.serving) || models[0]).classes;
    for (const name of state.classes) {
      $("threat-class").add(new Option(name, name));
      document.querySelector("#filters [name=class_name]").add(new Option(name, name));
    }
  }
  await loadQueue();
  if (state.queue.length) openScan(state.queue[0].scan_id);
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  const response = await fetch("/v1/session", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: $("login-name").value, password: $("login-password").value }) });
  if (!response.ok) { $("login-error").textContent = "Unknown name or wrong password."; return; }
  $("login-password").value = "";
  start(await response.json());
});

$("sign-out").addEventListener("click", async () => { await api("DELETE", "/v1/session").catch(() => null); showLogin(); });

// ---- queue ----
function filterParams() {
  const params = new URLSearchParams({ limit: "200" });
  for (const el of $("filters").elements) {
    if (!el.value) continue;
    params.set(el.name, el.name === "since" ? `${el.value}T00:00:00Z` : el.value);
  }
  return params;
}

let queueRequest = 0;
async function loadQueue() {
  const mine = ++queueRequest;
  const page = await api("GET", `/v1/queue?${filterParams()}`);
  if (mine !== queueRequest) return;  // a later request (another filter, the poll) answers for the queue
  state.queue = page.items;
  $("queue-count").textContent = String(page.total);
  const list = $("queue-list");
  list.replaceChildren(...page.items.map((s) => {
    const li = document.createElement("li");
    li.dataset.scanId = s.scan_id;
    li.className = state.scan && state.scan.scan_id === s.scan_id ? "current" : "";
    const verdict = document.createElement("span");
    verdict.className = `verdict-${s.decision.verdict}`;
    verdict.textContent = s.decision.verdict;
    li.append(verdict, ` ${s.scan_id} · ${s.station} · ${new Date(s.received_at).toLocaleString()}`);
    li.addEventListener("click", () => openScan(s.scan_id));
    return li;
  }));
}

$("filters").addEventListener("input", () => loadQueue().catch(status));
setInterval(() => { if (!$("app").hidden) loadQueue().catch(() => null); }, POLL_MS);

// ---- scan view ----
async function openScan(scanId) {
  const [scan, views] = await Promise.all([api("GET", `/v1/scans/${encodeURIComponent(scanId)}`), api("GET", `/v1/scans/${encodeURIComponent(scanId)}/views`)]);
  state.scan = scan; state.views = views.views; state.boxes = []; state.detail = null; state.preview = null;
  if (!state.views.includes(state.view)) state.view = "display";
  $("scan").hidden = false;
  for (const li of $("queue-list").children) li.classList.toggle("current", li.dataset.scanId === scanId);
  $("scan-title").textContent = scan.scan_id;
  $("decision").innerHTML = "";
  const verdict = document.createElement("span");
  verdict.className = `verdict-${scan.decision.verdict}`;
  verdict.textContent = scan.decision.verdict;
  $("decision").append(verdict, ` · model ${scan.model.name}:${scan.model.version} · policy ${scan.decision.policy_version}`);
  $("reasons").replaceChildren(...scan.decision.reasons.map((r) => li(r.rule === "detection"
    ? `${r.class_name} ${r.score.toFixed(2)} ≥ ${r.threshold} → ${r.verdict}` : `${r.rule}${r.detail ? ": " + r.detail : ""} → ${r.verdict}`)));
  const declared = { "item ref": scan.item_ref, station: scan.station, contents: scan.declared_contents, origin: scan.origin,
    view: scan.view, received: new Date(scan.received_at).toLocaleString(), image: `${scan.image.width}×${scan.image.height} ${scan.image.kind}` };
  $("declared").replaceChildren(...Object.entries(declared).flatMap(([k, v]) => { const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v == null ? "—" : String(v); return [dt, dd]; }));
  const top = scan.detections[0];
  if (top) $("threat-class").value = top.class_name;
  $("note").value = "";  // the status line keeps the last action's outcome: the officer sees it was saved
  renderViewButtons(); renderBoxList(); fit(); loadPreview();
}

function li(text) { const el = document.createElement("li"); el.textContent = text; return el; }

function renderViewButtons() {
  $("views").replaceChildren(...state.views.map((v) => {
    const b = document.createElement("button");
    b.type = "button"; b.dataset.view = v; b.textContent = `${v} (${VIEW_KEYS[v]})`;
    b.className = v === state.view ? "on" : "";
    b.addEventListener("click", () => setView(v));
    return b;
  }));
}

function setView(view) {
  if (!state.views.includes(view)) return;
  state.view = view; state.detail = null; renderViewButtons(); loadPreview();
}

function viewUrl(view, region, side) {
  const p = new URLSearchParams({ view, max_side: String(side) });
  if (region) for (const [k, v] of Object.entries(region)) p.set(k, String(v));
  return `/v1/scans/${encodeURIComponent(state.scan.scan_id)}/view?${p}`;
}

function loadImage(url) {
  return new Promise((resolve, reject) => { const img = new Image(); img.onload = () => resolve(img); img.onerror = reject; img.src = url; });
}

async function loadPreview() {
  const canvas = $("viewer");
  canvas.dataset.preview = "loading";
  const scanId = state.scan.scan_id, view = state.view;
  const img = await loadImage(viewUrl(view, null, PREVIEW_SIDE));
  if (state.scan.scan_id !== scanId || state.view !== view) return;
  state.preview = img; canvas.dataset.preview = view; canvas.dataset.view = view;
  draw(); scheduleDetail();
}

// Full resolution only where zoomed past the preview's: the visible region at screen resolution.
let detailTimer = null;
function scheduleDetail() {
  clearTimeout(detailTimer);
  detailTimer = setTimeout(loadDetail, 150);
}

async function loadDetail() {
  const canvas = $("viewer"), s = state.scan;
  const previewWidth = state.preview ? state.preview.naturalWidth : 0;
  if (!state.preview || previewWidth >= s.image.width || state.scale * s.image.width <= previewWidth * 1.01) { state.detail = null; canvas.dataset.detail = "none"; draw(); return; }
  const x0 = Math.max(0, Math.floor(state.ox)), y0 = Math.max(0, Math.floor(state.oy));
  const x1 = Math.min(s.image.width, Math.ceil(state.ox + canvas.width / state.scale)), y1 = Math.min(s.image.height, Math.ceil(state.oy + canvas.height / state.scale));
  if (x1 <= x0 || y1 <= y0) return;
  const region = { x0, y0, x1, y1 }, view = state.view, scanId = s.scan_id;
  canvas.dataset.detail = "loading";
  const img = await loadImage(viewUrl(view, region, Math.min(4096, Math.max(canvas.width, canvas.height))));
  if (state.scan.scan_id !== scanId || state.view !== view) return;
  state.detail = { img, ...region, view };
  canvas.dataset.detail = `${x0},${y0},${x1},${y1}`;
  draw();
}

function fit() {
  const canvas = $("viewer"), wrap = $("viewer-wrap");
  canvas.width = wrap.clientWidth; canvas.height = wrap.clientHeight;
  const s = state.scan.image;
  state.scale = Math.min(canvas.width / s.width, canvas.height / s.height);
  state.ox = -(canvas.width / state.scale - s.width) / 2; state.oy = -(canvas.height / state.scale - s.height) / 2;
  draw(); scheduleDetail();
}

function zoom(factor, cx, cy) {
  const canvas = $("viewer");
  cx = cx ?? canvas.width / 2; cy = cy ?? canvas.height / 2;
  const ix = state.ox + cx / state.scale, iy = state.oy + cy / state.scale;
  state.scale = Math.min(32, Math.max(0.01, state.scale * factor));
  state.ox = ix - cx / state.scale; state.oy = iy - cy / state.scale;
  draw(); scheduleDetail();
}

const toScreen = (x, y) => [(x - state.ox) * state.scale, (y - state.oy) * state.scale];
const toImage = (sx, sy) => [state.ox + sx / state.scale, state.oy + sy / state.scale];

function draw() {
  const canvas = $("viewer"), ctx = canvas.getContext("2d"), s = state.scan;
  if (!s) return;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.filter = "none"; ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.filter = `brightness(${$("brightness").value}%) contrast(${$("contrast").value}%) invert(${$("invert").checked ? 1 : 0})`;
  ctx.imageSmoothingEnabled = state.scale < 2;
  const [x, y] = toScreen(0, 0);
  if (state.preview) ctx.drawImage(state.preview, x, y, s.image.width * state.scale, s.image.height * state.scale);
  const d = state.detail;
  if (d && d.view === state.view) { const [dx, dy] = toScreen(d.x0, d.y0); ctx.drawImage(d.img, dx, dy, (d.x1 - d.x0) * state.scale, (d.y1 - d.y0) * state.scale); }
  ctx.filter = "none";
  $("zoom-level").textContent = `${Math.round(state.scale * 100)}%`;
  canvas.dataset.scale = state.scale.toFixed(4);
  if ($("show-boxes").checked) for (const det of s.detections) box(ctx, det.box, `${det.class_name} ${det.score.toFixed(2)}`, "#ff3b30", []);
  for (const b of state.boxes) box(ctx, b.box, b.class_name, "#34c759", [6, 4]);
  if (state.rubber) box(ctx, state.rubber, $("threat-class").value, "#34c759", [2, 2]);
}

function box(ctx, xyxy, label, colour, dash) {
  const [x0, y0] = toScreen(xyxy[0], xyxy[1]), [x1, y1] = toScreen(xyxy[2], xyxy[3]);
  ctx.setLineDash(dash); ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
  ctx.setLineDash([]); ctx.font = "12px sans-serif";
  const w = ctx.measureText(label).width + 6;
  ctx.fillStyle = colour; ctx.fillRect(x0, y0 - 16, w, 16); ctx.fillStyle = "#fff"; ctx.fillText(label, x0 + 3, y0 - 4);
}

// ---- corrected boxes ----
function renderBoxList() {
  $("box-list").replaceChildren(
    ...state.scan.detections.map((d) => li(`model: ${d.class_name} ${d.score.toFixed(2)} [${d.box.map(Math.round).join(", ")}]`)),
    ...state.boxes.map((b, i) => {
      const item = li(`corrected: ${b.class_name} [${b.box.map(Math.round).join(", ")}] `);
      item.className = "corrected";
      const remove = document.createElement("button");
      remove.type = "button"; remove.textContent = "remove";
      remove.addEventListener("click", () => { state.boxes.splice(i, 1); renderBoxList(); draw(); });
      item.append(remove);
      return item;
    }));
}

function setDrawing(on) { state.drawing = on; $("viewer").classList.toggle("drawing", on); $("draw").classList.toggle("on", on); }

function useModelBoxes() {
  state.boxes = state.scan.detections.map((d) => ({ class_name: d.class_name, box: d.box.slice() }));
  renderBoxList(); draw();
}

const canvas = $("viewer");
// A corner of a corrected box within a few screen pixels of the pointer: dragging it adjusts that box.
function cornerAt(sx, sy) {
  for (let i = state.boxes.length - 1; i >= 0; i--) {
    const b = state.boxes[i].box;
    for (const [cx, cy] of [[0, 1], [2, 1], [0, 3], [2, 3]]) {
      const [px, py] = toScreen(b[cx], b[cy]);
      if (Math.abs(px - sx) <= 8 && Math.abs(py - sy) <= 8) return { index: i, cx, cy };
    }
  }
  return null;
}

canvas.addEventListener("mousedown", (e) => {
  const [ix, iy] = toImage(e.offsetX, e.offsetY);
  state.drag = { sx: e.offsetX, sy: e.offsetY, ix, iy, ox: state.ox, oy: state.oy, corner: state.drawing ? null : cornerAt(e.offsetX, e.offsetY) };
});
canvas.addEventListener("mousemove", (e) => {
  const g = state.drag;
  if (!g) { canvas.style.cursor = !state.drawing && cornerAt(e.offsetX, e.offsetY) ? "nwse-resize" : ""; return; }
  if (g.corner) {
    const [ix, iy] = toImage(e.offsetX, e.offsetY), s = state.scan.image, b = state.boxes[g.corner.index].box;
    b[g.corner.cx] = Math.round(Math.min(s.width, Math.max(0, ix)) * 10) / 10;
    b[g.corner.cy] = Math.round(Math.min(s.height, Math.max(0, iy)) * 10) / 10;
  } else if (state.drawing) {
    const [ix, iy] = toImage(e.offsetX, e.offsetY);
    state.rubber = [Math.min(g.ix, ix), Math.min(g.iy, iy), Math.max(g.ix, ix), Math.max(g.iy, iy)];
  } else {
    state.ox = g.ox - (e.offsetX - g.sx) / state.scale; state.oy = g.oy - (e.offsetY - g.sy) / state.scale;
  }
  draw();
});
window.addEventListener("mouseup", () => {
  const r = state.rubber, s = state.scan, g = state.drag;
  state.drag = null; state.rubber = null;
  if (g && g.corner) {  // keep x0 < x1 and y0 < y1 whichever way the corner went
    const b = state.boxes[g.corner.index].box;
    state.boxes[g.corner.index].box = [Math.min(b[0], b[2]), Math.min(b[1], b[3]), Math.max(b[0], b[2]), Math.max(b[1], b[3])];
    renderBoxList(); draw(); return;
  }
  if (r && s) {
    const b = [Math.max(0, r[0]), Math.max(0, r[1]), Math.min(s.image.width, r[2]), Math.min(s.image.height, r[3])].map((v) => Math.round(v * 10) / 10);
    if (b[2] - b[0] >= 2 && b[3] - b[1] >= 2) state.boxes.push({ class_name: $("threat-class").value, box: b });
    setDrawing(false); renderBoxList();
  } else scheduleDetail();
  draw();
});
canvas.addEventListener("wheel", (e) => { e.preventDefault(); zoom(e.deltaY < 0 ? 1.25 : 0.8, e.offsetX, e.offsetY); }, { passive: false });
window.addEventListener("resize", () => { if (state.scan) fit(); });
for (const id of ["brightness", "contrast", "invert", "show-boxes"]) $(id).addEventListener("input", draw);

// ---- actions ----
function status(text) { $("action-status").textContent = text; }

async function review(body) {
  const s = state.scan;
  if (!s) return;
  const note = $("note").value.trim();
  if (note) body.note = note;
  try {
    const made = await api("POST", `/v1/scans/${encodeURIComponent(s.scan_id)}/review`, body);
    status(`reviewed ${s.scan_id}: ${made.outcome}`);
    $("action-status").dataset.reviewId = String(made.id);
    await next();
  } catch (err) { status(`not saved: ${err.message}`); }
}

function confirmThreat() {
  const cls = $("threat-class").value;
  review(state.boxes.length ? { outcome: "threat_confirmed", classes: [cls], boxes: state.boxes } : { outcome: "threat_confirmed", classes: [cls] });
}

async function next() {
  const current = state.scan && state.scan.scan_id;
  await loadQueue();
  const after = state.queue.find((s) => s.scan_id !== current);
  if (after) openScan(after.scan_id); else { state.scan = null; $("scan").hidden = true; }
}

$("confirm").addEventListener("click", confirmThreat);
$("false-alarm").addEventListener("click", () => review({ outcome: "false_alarm" }));
$("clear").addEventListener("click", () => review({ outcome: "clear" }));
$("next").addEventListener("click", () => next());
$("draw").addEventListener("click", () => setDrawing(!state.drawing));
$("use-model").addEventListener("click", useModelBoxes);
$("zoom-in").addEventListener("click", () => zoom(1.5));
$("zoom-out").addEventListener("click", () => zoom(1 / 1.5));
$("zoom-fit").addEventListener("click", fit);

document.addEventListener("keydown", (e) => {
  if ($("app").hidden || !state.scan || e.ctrlKey || e.metaKey || e.altKey) return;
  if (["INPUT", "TEXTAREA", "SELECT"].includes(e.target.tagName) && e.key !== "Escape") return;
  const view = Object.keys(VIEW_KEYS).find((v) => VIEW_KEYS[v] === e.key);
  const actions = { "+": () => zoom(1.5), "=": () => zoom(1.5), "-": () => zoom(1 / 1.5), "0": fit, b: () => { $("show-boxes").click(); },
    i: () => { $("invert").click(); }, d: () => setDrawing(!state.drawing), m: useModelBoxes, c: confirmThreat,
    f: () => review({ outcome: "false_alarm" }), x: () => review({ outcome: "clear" }), n: () => next(),
    t: () => $("note").focus(), Escape: () => { setDrawing(false); e.target.blur && e.target.blur(); } };
  const act = view ? () => setView(view) : actions[e.key.length === 1 ? e.key.toLowerCase() : e.key];
  if (act) { e.preventDefault(); act(); }
});

api("GET", "/v1/session").then(start).catch(() => showLogin());
