// faceprint web page, People view: the people and clusters a photo library found (served with
// `faceprint serve --library FILE`), naming, merging, splitting, and a person's photo grid.
// Uses app.js's helpers ($, headers, api, show, showError, busy). Images are fetched with the API key
// and shown as blob: URLs (the page's CSP allows no other image source).
"use strict";

const people = { open: null, photosShown: 0 };
const PHOTO_PAGE = 60;

function apiJson(method, path, obj) {
  return api(method, path, JSON.stringify(obj), { "Content-Type": "application/json" });
}

// Load an image of the API into an <img> (with the key; shown as a blob: URL, released once the
// image has decoded — never while it loads, which would be a failed load).
async function loadImage(img, url) {
  try {
    const res = await fetch(url, { headers: headers() });
    if (!res.ok) return;
    const u = URL.createObjectURL(await res.blob());
    img.onload = () => { URL.revokeObjectURL(u); img.dataset.loaded = "1"; };
    img.onerror = () => URL.revokeObjectURL(u);
    img.src = u;
  } catch (e) { /* a missing thumbnail leaves the grey square */ }
}

function label(c) {
  return c.name === null ? `cluster ${c.id}` : c.name;
}

function card(c) {
  const li = document.createElement("li");
  li.dataset.id = String(c.id);
  li.dataset.name = c.name || "";
  if (people.open === c.id) li.className = "open";
  const img = document.createElement("img");
  img.alt = label(c);
  img.title = "show " + label(c);
  if (c.thumbnail) loadImage(img, c.thumbnail);
  img.addEventListener("click", () => openPerson(c.id).catch(showError));
  const pick = document.createElement("input");
  pick.type = "checkbox";
  pick.className = "merge-pick";
  pick.value = String(c.id);
  pick.setAttribute("aria-label", "select " + label(c) + " to merge");
  pick.addEventListener("change", updateMerge);
  const caption = document.createElement("span");
  caption.className = "caption";
  caption.textContent = `${label(c)} · ${c.faces}`;
  caption.title = `${label(c)}: ${c.faces} face(s) in ${c.photos} photo(s)`;
  caption.addEventListener("click", () => openPerson(c.id).catch(showError));
  const row = document.createElement("label");
  row.append(pick, caption);
  li.append(img, row);
  return li;
}

function updateMerge() {
  $("merge-btn").disabled = document.querySelectorAll("#people-section .merge-pick:checked").length < 2;
}

async function refreshPeople() {
  const summary = await api("GET", "/v1/library");
  const section = $("people-section");
  if (!summary.enabled) { section.hidden = true; return; }
  section.hidden = false;
  $("index-row").hidden = !summary.can_index;
  $("people-summary").textContent =
    `${summary.photos} photos · ${summary.faces} faces · ${summary.people} people named · ${summary.clusters} not named yet`;
  const page = await api("GET", "/v1/library/people?limit=500");
  const named = $("people-named");
  const clusters = $("people-clusters");
  named.replaceChildren();
  clusters.replaceChildren();
  for (const c of page.items) (c.name === null ? clusters : named).appendChild(card(c));
  section.dataset.loaded = String(page.items.length);
  updateMerge();
  if (people.open !== null && !page.items.some((c) => c.id === people.open)) closePerson();
}

function closePerson() {
  people.open = null;
  $("person-detail").hidden = true;
  delete $("person-detail").dataset.id;
}

async function openPerson(id) {
  const faces = await api("GET", `/v1/library/clusters/${id}/faces?limit=500`);
  const c = faces.cluster;
  people.open = c.id;
  for (const li of document.querySelectorAll(".people-grid li")) li.classList.toggle("open", li.dataset.id === String(c.id));
  const detail = $("person-detail");
  $("person-title").textContent = `${label(c)}: ${c.faces} face(s) in ${c.photos} photo(s)`;
  $("person-name").value = c.name || "";
  const grid = $("person-faces");
  grid.replaceChildren();
  for (const f of faces.faces) {
    const li = document.createElement("li");
    li.dataset.id = String(f.id);
    const img = document.createElement("img");
    img.alt = `face ${f.id}`;
    img.title = f.photo || "";
    loadImage(img, f.thumbnail);
    const pick = document.createElement("input");
    pick.type = "checkbox";
    pick.className = "split-pick";
    pick.value = String(f.id);
    pick.setAttribute("aria-label", `select face ${f.id} to split off`);
    pick.addEventListener("change", () => {
      $("split-btn").disabled = !grid.querySelector(".split-pick:checked");
    });
    img.addEventListener("click", () => { pick.checked = !pick.checked; pick.dispatchEvent(new Event("change")); });
    const row = document.createElement("label");
    row.append(pick);
    li.append(img, row);
    grid.appendChild(li);
  }
  $("split-btn").disabled = true;
  $("person-photos").replaceChildren();
  people.photosShown = 0;
  await morePhotos();
  detail.hidden = false;
  detail.dataset.id = String(c.id);
}

async function morePhotos() {
  const id = people.open;
  const page = await api("GET", `/v1/library/clusters/${id}/photos?limit=${PHOTO_PAGE}&offset=${people.photosShown}`);
  const grid = $("person-photos");
  for (const p of page.photos) {
    const li = document.createElement("li");
    li.dataset.photo = String(p.photo_id);
    const img = document.createElement("img");
    img.alt = p.paths[0] || `photo ${p.photo_id}`;
    loadImage(img, p.image + "?size=480");
    const caption = document.createElement("span");
    caption.textContent = p.paths.join(", ");
    caption.title = caption.textContent;
    li.append(img, caption);
    grid.appendChild(li);
  }
  people.photosShown += page.photos.length;
  $("person-photo-count").textContent = `(${page.total})`;
  $("photos-more").hidden = people.photosShown >= page.total;
  grid.dataset.shown = String(people.photosShown);
}

async function namePerson(ev) {
  ev.preventDefault();
  show("", true);
  await busy($("name-btn"), async () => {
    const name = $("person-name").value.trim();
    const r = await apiJson("POST", `/v1/library/clusters/${people.open}/name`, { name });
    show(`named: ${r.name} (${r.faces} faces)`, true);
    people.open = r.id;
    await refreshPeople();
    await openPerson(r.id);
  });
}

async function mergeSelected() {
  show("", true);
  await busy($("merge-btn"), async () => {
    const picked = [...document.querySelectorAll("#people-section .merge-pick:checked")].map((b) => Number(b.value));
    if (picked.length < 2) throw new Error("select two or more to merge");
    // into the named one (people first in the list), else the largest cluster (listed first)
    const r = await apiJson("POST", "/v1/library/merge", { target: picked[0], others: picked.slice(1) });
    show(`merged into ${label(r)} (${r.faces} faces)`, true);
    await refreshPeople();
    await openPerson(r.id);
  });
}

async function splitSelected() {
  show("", true);
  await busy($("split-btn"), async () => {
    const faces = [...document.querySelectorAll("#person-faces .split-pick:checked")].map((b) => Number(b.value));
    if (!faces.length) throw new Error("select the faces to split off");
    const from = people.open;
    const r = await apiJson("POST", "/v1/library/split", { faces });
    show(`split ${faces.length} face(s) off into ${label(r)}`, true);
    await refreshPeople();
    const still = document.querySelector(`.people-grid li[data-id="${from}"]`);
    await openPerson(still ? from : r.id);
  });
}

// Index the server's library root (new and changed photos only), showing the job's progress.
async function indexFolder() {
  show("", true);
  await busy($("index-btn"), async () => {
    const progress = $("index-progress");
    delete progress.dataset.status;
    let state = await apiJson("POST", "/v1/library/index", { folder: "" });
    while (state.status === "queued" || state.status === "running") {
      const p = state.progress;
      const eta = p.eta_s === null ? "" : ` · about ${Math.ceil(p.eta_s)} s left`;
      progress.textContent = `${state.status}: ${p.files}${p.total === null ? "" : " of " + p.total} files${eta}`;
      await sleep(500);
      state = await api("GET", "/v1/library/index");
    }
    if (state.status === "failed") {
      progress.textContent = "failed";
      showError(state.error || { message: "indexing failed" });
    } else {
      const r = state.report;
      progress.textContent = `done: ${r.indexed} photos indexed, ${r.unchanged} unchanged, ${r.errors} bad, ${r.faces} faces added`;
    }
    progress.dataset.status = state.status;
    await refreshPeople();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("index-btn").addEventListener("click", indexFolder);
  $("people-refresh").addEventListener("click", () => busy($("people-refresh"), refreshPeople));
  $("merge-btn").addEventListener("click", mergeSelected);
  $("split-btn").addEventListener("click", splitSelected);
  $("name-form").addEventListener("submit", namePerson);
  $("photos-more").addEventListener("click", () => busy($("photos-more"), morePhotos));
  $("api-key").addEventListener("change", () => refreshPeople().catch(() => {}));
  refreshPeople().catch(() => { $("people-section").hidden = true; });
});
