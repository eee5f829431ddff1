// faceprint web page: enroll, identify (boxes and names drawn on the photo, each face's analysis), a
// video's timeline and annotated clip, list and delete.
// Plain JS, no external assets; talks to the same origin's /v1 API.
"use strict";

const $ = (id) => document.getElementById(id);

function headers() {
  const key = $("api-key").value.trim();
  return key ? { Authorization: "Bearer " + key } : {};
}

function show(text, ok) {
  const m = $("message");
  m.textContent = text;
  m.className = ok ? "ok" : "";
  m.hidden = !text;
}

function showError(e) {
  show((e.code ? e.code + ": " : "") + e.message, false);
}

async function api(method, path, body, extraHeaders) {
  const res = await fetch(path, { method, headers: Object.assign({}, extraHeaders || {}, headers()), body });
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) {
    const err = data && data.error ? data.error : { code: "http_" + res.status, message: res.statusText };
    throw Object.assign(new Error(err.message), { code: err.code, status: res.status });
  }
  return data;
}

async function busy(button, fn) {
  button.disabled = true;
  try { await fn(); } catch (e) { showError(e); }
  finally { button.disabled = false; }
}

async function refreshStatus() {
  try {
    const r = await fetch("/readyz", { headers: headers() });
    const d = await r.json();
    $("status").textContent = r.ok
      ? `ready · ${d.gallery.identities} people, ${d.gallery.faces} faces · ${d.models.embedder}`
      : (r.status === 401 ? "an API key is needed" : d.status);
  } catch (e) { $("status").textContent = "server unreachable"; }
}

async function refreshIdentities() {
  const body = $("identities").querySelector("tbody");
  const data = await api("GET", "/v1/identities");
  body.replaceChildren();
  // an empty gallery says what to do first
  $("empty-hint").hidden = data.identities.length > 0;
  for (const p of data.identities) {
    const tr = document.createElement("tr");
    tr.dataset.name = p.name;
    const when = new Date(p.created * 1000).toLocaleString();
    for (const text of [p.name, String(p.n_faces), when]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    const td = document.createElement("td");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "small danger delete-btn";
    b.textContent = "delete";
    b.dataset.name = p.name;
    b.addEventListener("click", () => busy(b, async () => {
      if (!window.confirm(`Delete ${p.name} and all their photos?`)) return;
      const r = await api("DELETE", "/v1/identities/" + encodeURIComponent(p.name));
      show(`deleted ${r.deleted} (${r.faces_removed} faces)`, true);
      await refreshIdentities();
      await refreshStatus();
    }));
    td.appendChild(b);
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

async function enroll(ev) {
  ev.preventDefault();
  $("enroll-result").textContent = "";  // a failed enrolment must not leave the previous result
  show("", true);
  await busy($("enroll-btn"), async () => {
    const fd = new FormData();
    fd.append("name", $("enroll-name").value.trim());
    for (const f of $("enroll-files").files) fd.append("images", f, f.name);
    const r = await api("POST", "/v1/enroll", fd);
    $("enroll-result").textContent = `${r.name}: ${r.enrolled} photo(s) enrolled, ${r.duplicates} already there`;
    show("", true);
    await refreshIdentities();
    await refreshStatus();
  });
}

function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

// Where to put a w x h label for a face box so that it overlaps no label placed so far: below
// the box, above it, inside its bottom or top edge, then further down until it is free.
function placeLabel(box, w, h, placed, width, height) {
  const [x1, y1, x2, y2] = box;
  const x = Math.max(0, Math.min(x1, width - w));
  const fits = (r) => r.y >= 0 && r.y + r.h <= height && !placed.some((p) => overlaps(r, p));
  for (const y of [y2, y1 - h, y2 - h, y1]) {
    const r = { x, y, w, h };
    if (fits(r)) return r;
  }
  const r = { x, y: Math.max(0, Math.min(y2, height - h)), w, h };
  for (let guard = 0; guard < 200 && placed.some((p) => overlaps(r, p)); guard++) {
    const hit = placed.filter((p) => overlaps(r, p));
    r.y = Math.max(...hit.map((p) => p.y + p.h)) + 1;  // just below the labels in the way
  }
  return r;
}

function clearResult() {
  const canvas = $("identify-canvas");
  canvas.width = 0;
  canvas.height = 0;
  delete canvas.dataset.faces;
  delete canvas.dataset.labels;
  $("identify-result").replaceChildren();
}

function drawResult(img, faces) {
  const canvas = $("identify-canvas");
  const maxW = 900;
  const scale = Math.min(1, maxW / img.naturalWidth);
  canvas.width = Math.round(img.naturalWidth * scale);
  canvas.height = Math.round(img.naturalHeight * scale);
  const g = canvas.getContext("2d");
  g.drawImage(img, 0, 0, canvas.width, canvas.height);
  // CSS shrinks a wide canvas to its column: size labels and lines in the pixels that are shown
  const shown = canvas.width / Math.max(1, canvas.clientWidth || canvas.width);
  const font = Math.round(14 * Math.max(1, shown));
  g.font = `${font}px system-ui, sans-serif`;
  g.lineWidth = 2 * Math.max(1, shown);
  const boxes = [];
  for (const f of faces) {
    if (!f.box) continue;
    const box = f.box.map((v) => v * scale);
    const known = !f.unknown;
    const color = known ? "#2ecc71" : "#e74c3c";
    g.strokeStyle = color;
    g.strokeRect(box[0], box[1], box[2] - box[0], box[3] - box[1]);
    boxes.push({ f, box, color, known });
  }
  // labels after every box, each placed clear of the others (close faces: no overlap)
  const placed = [];
  for (const { f, box, color, known } of boxes) {
    const label = known ? `${f.identity} ${f.score.toFixed(3)}` : "unknown";
    const r = placeLabel(box, g.measureText(label).width + 8, font + 6, placed, canvas.width, canvas.height);
    placed.push(r);
    g.fillStyle = color;
    g.fillRect(r.x, r.y, r.w, r.h);
    g.fillStyle = "#fff";
    g.fillText(label, r.x + 4, r.y + font);
  }
  canvas.dataset.labels = JSON.stringify(placed.map((r) => [r.x, r.y, r.w, r.h].map((v) => Math.round(v * 10) / 10)));
}

async function identify(ev) {
  ev.preventDefault();
  clearResult();  // a failed upload must not leave the previous photo's result on screen
  show("", true);
  await busy($("identify-btn"), async () => {
    const file = $("identify-file").files[0];
    if (!file) throw new Error("choose a photo");
    const fd = new FormData();
    fd.append("image", file, file.name);
    const r = await api("POST", "/v1/identify", fd);
    const url = URL.createObjectURL(file);
    const img = new Image();
    await new Promise((ok, fail) => { img.onload = ok; img.onerror = () => fail(new Error("the browser cannot show this image")); img.src = url; });
    drawResult(img, r.faces);
    URL.revokeObjectURL(url);
    const list = $("identify-result");
    list.replaceChildren();
    if (!r.faces.length) {
      const li = document.createElement("li");
      li.textContent = "no face found";
      list.appendChild(li);
    }
    for (const f of r.faces) {
      const li = document.createElement("li");
      li.className = f.unknown ? "unknown" : "known";
      li.textContent = f.unknown
        ? (f.candidates.length
          ? `unknown (best: ${f.candidates[0].identity} ${f.candidates[0].score.toFixed(3)})`
          : "unknown (nobody is enrolled yet: enroll people first)")
        : `${f.identity} (score ${f.score.toFixed(3)}, threshold ${f.threshold.toFixed(3)})`;
      list.appendChild(li);
    }
    if (r.faces.length) await showAnalysis(file, list);
    $("identify-canvas").dataset.faces = String(r.faces.length);
    show("", true);
  });
}

// One line of analysis per face (expression, age, gender, liveness, quality) from /v1/analyze:
// the same pipeline, so its faces come in the same order as /v1/identify's.
function analysisText(a) {
  const parts = [];
  if (a.expression) parts.push(a.expression.label);
  if (a.age) parts.push(`age ~${Math.round(a.age.years)}`);
  if (a.gender) parts.push(`${a.gender.label} ${a.gender.score.toFixed(2)}`);
  if (a.liveness) parts.push(`${a.liveness.live ? "live" : "not live"} ${a.liveness.score.toFixed(2)}`);
  if (a.quality) parts.push(`quality ${a.quality.score.toFixed(2)}`);
  return parts.join(" · ");
}

async function showAnalysis(file, list) {
  const fd = new FormData();
  fd.append("image", file, file.name);
  let r;
  try { r = await api("POST", "/v1/analyze", fd); } catch (e) { return; }  // analysis is extra: identification stands
  const items = list.querySelectorAll("li");
  r.faces.forEach((a, i) => {
    if (!items[i]) return;
    const span = document.createElement("span");
    span.className = "analysis";
    span.textContent = " — " + analysisText(a);
    items[i].appendChild(span);
  });
}

function clock(t) {
  const m = Math.floor(t / 60);
  return `${m}:${(t - 60 * m).toFixed(1).padStart(4, "0")}`;
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

function showTimeline(result) {
  const table = $("video-timeline");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  for (const t of result.tracks) {
    const tr = document.createElement("tr");
    tr.className = t.unknown ? "unknown" : "known";
    tr.dataset.identity = t.identity || "";
    tr.title = "show this track in the clip";
    const who = t.unknown ? "unknown" : t.identity;
    const score = t.score === null ? "–" : t.score.toFixed(3);
    for (const text of [String(t.track_id), who, clock(t.first_time), clock(t.last_time), score]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    tr.addEventListener("click", () => {  // jump to where the track starts
      const v = $("video-annotated");
      if (!v.hidden) { v.currentTime = t.first_time; v.play().catch(() => {}); }
    });
    body.appendChild(tr);
  }
  table.hidden = false;
  table.dataset.tracks = String(result.tracks.length);
}

async function analyseVideo(ev) {
  ev.preventDefault();
  const progress = $("video-progress");
  const v = $("video-annotated");
  $("video-timeline").hidden = true;
  if (v.src) URL.revokeObjectURL(v.src);
  v.removeAttribute("src");
  v.hidden = true;
  progress.textContent = "";
  show("", true);
  await busy($("video-btn"), async () => {
    const file = $("video-file").files[0];
    if (!file) throw new Error("choose a video");
    const fd = new FormData();
    fd.append("video", file, file.name);
    progress.textContent = "uploading…";
    const { job } = await api("POST", "/v1/video", fd);
    let state;
    for (;;) {  // poll the job: progress with ETA, then the timeline
      state = await api("GET", "/v1/video/" + job);
      const p = state.progress;
      if (state.status === "done" || state.status === "failed") break;
      const of = p.total ? ` of ${p.total}` : "";
      const eta = p.eta_s === null ? "" : ` · about ${Math.ceil(p.eta_s)} s left`;
      progress.textContent = `${state.status}: frame ${p.frames}${of}${eta}`;
      await sleep(500);
    }
    const r = state.result;
    if (state.status === "failed") {
      showError(state.error || { message: "the video could not be analysed" });
      if (!r) { progress.textContent = "failed"; return; }
    }
    const named = r.tracks.filter((t) => !t.unknown).length;
    progress.textContent = `${r.frames} frames · ${r.tracks.length} track(s), ${named} named`
      + (state.status === "failed" ? " (up to the failure)" : "");
    showTimeline(r);
    const res = await fetch(`/v1/video/${job}/annotated.webm`, { headers: headers() });
    if (res.ok) {
      v.src = URL.createObjectURL(await res.blob());
      v.hidden = false;
    }
    progress.dataset.job = job;
    progress.dataset.status = state.status;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const saved = sessionStorage.getItem("faceprint-key");
  if (saved) $("api-key").value = saved;
  $("api-key").addEventListener("change", () => {
    sessionStorage.setItem("faceprint-key", $("api-key").value.trim());
    // a key that works clears the error a missing or wrong one left
    refreshIdentities().then(() => show("", true), showError);
    refreshStatus();
  });
  $("enroll-form").addEventListener("submit", enroll);
  $("identify-form").addEventListener("submit", identify);
  $("video-form").addEventListener("submit", analyseVideo);
  $("refresh-btn").addEventListener("click", () => busy($("refresh-btn"), refreshIdentities));
  refreshStatus();
  refreshIdentities().catch(showError);
});
