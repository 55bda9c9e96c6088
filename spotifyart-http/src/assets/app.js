// SpotifyArt's page: one script, no build step, no inline code (the CSP
// allows scripts from this origin only). Views: sign in (/), your mood,
// invites, painting, playlist covers and gallery (/discover), accepting an invite
// (/match/{code}).
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

const ERRORS = {
  access_denied: "Spotify sign-in was cancelled.",
  state_mismatch: "That sign-in link was not started in this browser. Please try again.",
  state_reused: "That sign-in link was already used. Please sign in again.",
  signin_expired: "The sign-in took too long or cookies are blocked. Please try again.",
  exchange_failed: "Spotify did not accept the sign-in. Please try again.",
  spotify_busy: "Spotify is busy right now. Please try again in a minute.",
  spotify_unavailable: "Spotify could not be reached. Please try again shortly.",
  unavailable: "SpotifyArt is having trouble right now. Please try again shortly.",
  spotify_error: "Spotify could not complete the sign-in. Please try again.",
  no_code: "Spotify did not complete the sign-in. Please try again.",
  not_configured: "Signing in with Spotify is not set up on this server.",
  lastfm_refused: "Last.fm did not confirm the sign-in. Please try again.",
  lastfm_busy: "Last.fm is busy right now. Please try again in a minute.",
  lastfm_unavailable: "Last.fm could not be reached. Please try again shortly.",
  not_the_invitee: "That Last.fm account is not the one this invite is for.",
  invite_used: "This invite has been used or has expired; ask for a new one.",
  invite_unknown: "This invite does not exist.",
};

// Only fixed texts reach the page: `?error=` is in the address, and anyone
// can send someone a link with any text in it.
function errorText(code) {
  return Object.hasOwn(ERRORS, code) ? ERRORS[code] : "Sign-in failed. Please try again.";
}

function cookie(name) {
  const hit = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
}

class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = cookie("sa_csrf");
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const err = (data && data.error) || { code: "error", message: res.statusText };
    throw new ApiError(res.status, err.code, err.message, res.headers.get("Retry-After"));
  }
  return { status: res.status, data };
}

function notice(text, ok = false) {
  const n = $("notice");
  n.textContent = text;
  n.classList.toggle("ok", ok);
  n.hidden = !text;
}

function show(view) {
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== "view-" + view;
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

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text) e.textContent = text;
  return e;
}

// The valence/arousal plane with a dot per mood (user units: 100 = 1).
function plot(points) {
  const s = svg("svg", { viewBox: "-125 -125 250 250", class: "plot", role: "img" });
  s.append(svg("title", {}, "Valence (left: sad, right: happy) and arousal (down: calm, up: energetic)"));
  s.append(svg("rect", { x: -100, y: -100, width: 200, height: 200, rx: 8, fill: "#101014", stroke: "#2a2a33" }));
  s.append(svg("line", { x1: -100, y1: 0, x2: 100, y2: 0, stroke: "#33333d" }));
  s.append(svg("line", { x1: 0, y1: -100, x2: 0, y2: 100, stroke: "#33333d" }));
  const label = (x, y, t, fill = "#a0a0ad") =>
    s.append(svg("text", { x, y, "text-anchor": "middle", "font-size": 11, fill }, t));
  label(55, -86, "euphoric");
  label(-55, -86, "tense");
  label(-55, 94, "melancholic");
  label(55, 94, "serene");
  label(0, 116, "valence →");
  points.forEach((p, i) => {
    const x = 100 * Math.max(-1, Math.min(1, p.mood.valence));
    const y = -100 * Math.max(-1, Math.min(1, p.mood.arousal));
    const fill = (p.mood.palette && p.mood.palette[0] && p.mood.palette[0].color) || "#1ed760";
    s.append(svg("circle", { cx: x, cy: y, r: 8, fill, stroke: "#fff", "stroke-width": 2 }));
    // Labels above, below, then beside, so close points stay readable.
    const [dx, dy] = [[0, -13], [0, 22], [0, 36]][i % 3];
    label(x + dx, y + dy, p.name, "#f2f2f5");
  });
  return s;
}

function swatches(mood) {
  const box = el("div", { class: "swatches" });
  for (const sw of mood.palette || []) {
    const d = el("div", { class: "swatch", title: sw.name + " " + sw.color });
    d.style.background = sw.color;
    box.append(d);
  }
  return box;
}

let me = null;

async function signedIn() {
  // The CSRF cookie comes and goes with the session: without it there is
  // no session to ask about.
  if (!cookie("sa_csrf")) return false;
  try {
    me = (await api("/api/v1/me")).data;
    $("who").textContent = me.display_name || "signed in";
    $("who").hidden = false;
    $("logout").hidden = false;
    return true;
  } catch (e) {
    if (e.status === 401) return false;
    throw e;
  }
}

async function loadMood() {
  const body = $("mood-body");
  try {
    const { mood } = (await api("/api/v1/music/mood")).data;
    body.replaceChildren(
      el("div", {},
        el("p", { class: "mood-label", text: mood.label }),
        el("p", { class: "mood-desc", text: (mood.descriptors || []).slice(0, 4).join(" · ") }),
        swatches(mood),
        el("p", { class: "signals", text: ((mood.signals || []).length ?
          "Read from your " + mood.signals.join(", ").replaceAll("_", " ") : "Not enough listening to read yet") +
          " · confidence " + Math.round(mood.confidence * 100) + "%" })),
      plot([{ name: "you", mood }]));
    body.dataset.ready = "1";
  } catch (e) {
    body.replaceChildren(el("p", { class: "muted", text: e.message }));
    if (e.status === 401) location.assign("/");
  }
}

async function loadMatches() {
  const { matches } = (await api("/api/v1/matches")).data;
  const list = $("matches");
  const select = $("subject");
  select.replaceChildren(el("option", { value: "", text: "my mood" }));
  if (!matches.length) {
    list.replaceChildren(el("li", { class: "muted", text: "None yet." }));
    return;
  }
  list.replaceChildren(...matches.map((m) => {
    const other = m.users[0] === me.id ? "your invitee" : "your inviter";
    select.append(el("option", { value: m.id, text: "our match with " + other + " (" + m.score + "/100)" }));
    return el("li", {}, el("span", { text: m.result.blended.label + " · with " + other }),
      el("span", { class: "score", text: m.score + "/100" }));
  }));
  select.value = matches[0].id;
}

async function loadGallery() {
  const { artworks } = (await api("/api/v1/gallery")).data;
  const g = $("gallery");
  if (!artworks.length) {
    g.replaceChildren(el("p", { class: "muted", text: "Nothing painted yet." }));
    return;
  }
  g.replaceChildren(...artworks.map((a) =>
    el("a", { href: a.url, target: "_blank", rel: "noopener" },
      el("img", { src: a.url, alt: a.prompt, loading: "lazy", width: a.width, height: a.height }))));
}

function progress(fraction, text) {
  $("progress").hidden = fraction === null;
  $("progress-fill").style.width = Math.round((fraction || 0) * 100) + "%";
  $("paint-status").textContent = text;
}

function showArtwork(a) {
  $("result-img").src = a.url;
  $("result-caption").textContent = a.prompt + " · " + a.model + ", seed " + a.seed;
  $("result").hidden = false;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function paint() {
  const button = $("paint");
  button.disabled = true;
  $("result").hidden = true;
  try {
    const body = {};
    if ($("subject").value) body.match_id = $("subject").value;
    if ($("style").value) body.style = $("style").value;
    progress(0, "Sending…");
    const { status, data } = await api("/api/v1/ai/art", { method: "POST", body });
    if (status === 200) {
      progress(1, "Already painted: here it is.");
      showArtwork(data.artwork);
      return;
    }
    let job = data.job;
    while (job.state === "queued" || job.state === "running") {
      progress(job.progress, job.state === "queued" ? "Waiting for a painter…" :
        "Painting… " + Math.round(job.progress * 100) + "%");
      await sleep(1000);
      job = (await api(data.status_url)).data;
    }
    if (job.state === "failed") {
      progress(null, "Painting failed: " + (job.error || "unknown error") + ". Try again.");
      return;
    }
    progress(1, "Done.");
    const art = (await api("/api/v1/art/" + job.artwork_id)).data;
    showArtwork(art);
    loadGallery();
  } catch (e) {
    // Messages that already say when (Spotify's own limit) need no second wait.
    const says = /try again in/i.test(e.message || "");
    const wait = e.retryAfter && !says ? " (try again in " + e.retryAfter + " s)" : "";
    progress(null, e.message + wait);
  } finally {
    button.disabled = false;
  }
}

// Playlist covers: the playlist consent is asked for here only, when the
// user comes to this card, never at sign-in.
let painted = null;

function coverProgress(fraction, text) {
  $("cover-progress").hidden = fraction === null;
  $("cover-progress-fill").style.width = Math.round((fraction || 0) * 100) + "%";
  $("cover-status").textContent = text;
}

async function loadCovers() {
  let data;
  try {
    data = (await api("/api/v1/playlists")).data;
  } catch (e) {
    $("covers-body").hidden = true;
    $("covers-consent").hidden = true;
    $("covers").append(el("p", { class: "muted", text: e.message }));
    return;
  }
  $("covers-allow").href = data.consent_url;
  $("covers-consent").hidden = data.consent;
  $("covers-body").hidden = !data.consent;
  if (!data.consent) return;
  const select = $("playlist");
  select.replaceChildren(...data.playlists.map((p) =>
    el("option", { value: p.id, text: p.name + " (" + p.tracks + ")" })));
  const none = !data.playlists.length;
  $("paint-cover").disabled = none;
  $("weekly-cover").disabled = none;
  if (none) coverProgress(null, "You have no playlists of your own yet.");
  await loadSchedules(data.playlists);
}

async function loadSchedules(playlists) {
  const { schedules } = (await api("/api/v1/schedules")).data;
  const list = $("schedules");
  if (!schedules.length) {
    list.replaceChildren(el("li", { class: "muted", text: "None yet." }));
    return;
  }
  const name = (id) => (playlists.find((p) => p.id === id) || { name: id }).name;
  list.replaceChildren(...schedules.map((s) => {
    const what = s.task.kind === "cover" ? "Cover of " + name(s.task.playlist) :
      "Archive " + name(s.task.from) + " into " + name(s.task.to);
    const state = s.paused ? "paused: " + s.paused : s.last_error ? "last run failed: " + s.last_error :
      s.last_result ? s.last_result : "first run soon";
    const remove = el("button", { class: "link", type: "button", text: "Stop" });
    remove.addEventListener("click", async () => {
      try {
        await api("/api/v1/schedules/" + s.id, { method: "DELETE" });
        await loadSchedules(playlists);
      } catch (e) { coverProgress(null, e.message); }
    });
    return el("li", {}, el("span", { text: what + " · every " + s.every_days + " days · " + state }), remove);
  }));
}

async function paintCover() {
  const id = $("playlist").value;
  $("paint-cover").disabled = true;
  $("cover-result").hidden = true;
  painted = null;
  try {
    coverProgress(0, "Reading the playlist…");
    const { status, data } = await api("/api/v1/playlists/" + encodeURIComponent(id) + "/cover",
      { method: "POST", body: {} });
    let artworkId = status === 200 ? data.artwork.id : null;
    if (!artworkId) {
      let job = data.job;
      while (job.state === "queued" || job.state === "running") {
        coverProgress(job.progress, job.state === "queued" ? "Waiting for a painter…" :
          "Painting… " + Math.round(job.progress * 100) + "%");
        await sleep(1000);
        job = (await api(data.status_url)).data;
      }
      if (job.state === "failed") {
        coverProgress(null, "Painting failed: " + (job.error || "unknown error") + ". Try again.");
        return;
      }
      artworkId = job.artwork_id;
    }
    const art = (await api("/api/v1/art/" + artworkId)).data;
    painted = { playlist: id, artwork: art.id };
    $("cover-img").src = art.url;
    $("cover-caption").textContent = art.prompt;
    $("upload-cover").disabled = false;
    $("cover-result").hidden = false;
    coverProgress(1, "Painted. Set it as the playlist's cover if you like it.");
  } catch (e) {
    coverProgress(null, e.message);
  } finally {
    $("paint-cover").disabled = false;
  }
}

async function uploadCover() {
  if (!painted) return;
  $("upload-cover").disabled = true;
  try {
    const { data } = await api("/api/v1/playlists/" + encodeURIComponent(painted.playlist) + "/cover",
      { method: "PUT", body: { artwork_id: painted.artwork } });
    coverProgress(null, "Set as the cover (" + data.side + "×" + data.side + " JPEG). Spotify may take a minute to show it.");
  } catch (e) {
    $("upload-cover").disabled = false;
    coverProgress(null, e.message);
  }
}

async function weeklyCover() {
  try {
    await api("/api/v1/schedules", { method: "POST", body: { kind: "cover", playlist: $("playlist").value } });
    coverProgress(null, "Its cover will be repainted every week.");
    await loadCovers();
  } catch (e) {
    coverProgress(null, e.message);
  }
}

async function makeInvite() {
  try {
    const { data } = await api("/api/v1/matches", { method: "POST" });
    $("invite-url").value = data.url;
    $("invite-out").hidden = false;
    $("invite-url").select();
  } catch (e) {
    notice(e.message);
  }
}

async function inviteByName() {
  const username = $("invite-username").value.trim();
  if (!username) return notice("Enter their username first.");
  try {
    const { data } = await api("/api/v1/matches", {
      method: "POST", body: { provider: $("invite-provider").value, username },
    });
    $("invite-url").value = data.url;
    $("invite-out").hidden = false;
    $("invite-url").select();
    notice("Send this link to " + username + ": it asks them to confirm it is them.", true);
  } catch (e) {
    notice(e.message);
  }
}

const SERVICES = { listenbrainz: "ListenBrainz", lastfm: "Last.fm" };

// An invite for someone at ListenBrainz or Last.fm: they prove who they
// are there (no Spotify sign-in), then see the match.
function provePage(code, to) {
  show("match");
  const service = SERVICES[to.provider] || to.provider;
  $("match-title").textContent = "You have been invited to match, " + to.username;
  const body = $("match-body");
  if (to.provider === "lastfm") {
    body.replaceChildren(
      el("p", { text: "This invite is for Last.fm user " + to.username + ". SpotifyArt reads your public " +
        "scrobbles to compare them with the person who invited you; only the two of you see the result." }),
      el("p", { class: "small", text: "Sign in with Last.fm to confirm it is you; SpotifyArt keeps only your username." }),
      el("a", { class: "button primary", href: "/auth/lastfm/login?invite=" + encodeURIComponent(code),
        text: "Sign in with Last.fm" }));
    return;
  }
  if (to.provider !== "listenbrainz") {
    body.replaceChildren(el("p", { text: "This invite is for " + service + " user " + to.username + "." }));
    return;
  }
  const token = el("input", { id: "lb-token", type: "password", autocomplete: "off",
    "aria-label": "Your ListenBrainz user token", placeholder: "your ListenBrainz user token" });
  const go = el("button", { id: "prove", class: "button primary", type: "button", text: "Confirm and see our match" });
  body.replaceChildren(
    el("p", { text: "This invite is for ListenBrainz user " + to.username + ". SpotifyArt reads your public " +
      "listens to compare them with the person who invited you; only the two of you see the result." }),
    el("p", { class: "small", text: "To confirm it is you, paste your user token from listenbrainz.org/settings. " +
      "It is checked with ListenBrainz once and not kept." }),
    el("div", { class: "paint-row" }, token, go));
  go.addEventListener("click", async () => {
    go.disabled = true;
    try {
      const m = (await api("/auth/listenbrainz", { method: "POST", body: { invite: code, token: token.value.trim() } })).data;
      $("match-title").textContent = "Your match";
      body.replaceChildren(
        el("p", { class: "big-score", text: m.score + "/100" }),
        el("p", { text: m.explanation }),
        plot([{ name: "them", mood: m.result.mood_a }, { name: "you", mood: m.result.mood_b },
          { name: "together", mood: m.result.blended }]),
        el("p", {}, el("a", { class: "button primary", href: "/discover", text: "Paint it" })));
    } catch (e) {
      go.disabled = false;
      notice(e.message);
    }
  });
}

async function discover() {
  show("discover");
  await Promise.all([loadMood(), loadMatches(), loadGallery(), loadCovers()]);
}

async function matchPage(code) {
  show("match");
  $("accept").addEventListener("click", async () => {
    $("accept").disabled = true;
    $("match-body").replaceChildren(el("p", { class: "muted", text: "Comparing your listening…" }));
    try {
      const m = (await api("/api/v1/matches/" + encodeURIComponent(code) + "/accept", { method: "POST" })).data;
      $("match-title").textContent = "Your match";
      $("match-body").replaceChildren(
        el("p", { class: "big-score", text: m.score + "/100" }),
        el("p", { text: m.explanation }),
        plot([{ name: "them", mood: m.result.mood_a }, { name: "you", mood: m.result.mood_b },
          { name: "together", mood: m.result.blended }]),
        el("p", {}, el("a", { class: "button primary", href: "/discover", text: "Paint it" })));
    } catch (e) {
      $("match-body").replaceChildren(el("p", { text: e.message }),
        el("a", { class: "button", href: "/discover", text: "Go to your page" }));
    }
  });
}

async function main() {
  $("logout").addEventListener("click", async () => {
    try { await api("/auth/logout", { method: "POST" }); } catch (_) { /* signed out anyway */ }
    location.assign("/");
  });
  $("make-invite").addEventListener("click", makeInvite);
  $("invite-by-name").addEventListener("click", inviteByName);
  $("copy-invite").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText($("invite-url").value));
  $("paint").addEventListener("click", paint);
  $("paint-cover").addEventListener("click", paintCover);
  $("upload-cover").addEventListener("click", uploadCover);
  $("weekly-cover").addEventListener("click", weeklyCover);

  const params = new URLSearchParams(location.search);
  const error = params.get("error");
  if (error) notice(errorText(error));

  const path = location.pathname;
  const invite = path.match(/^\/match\/([^/]+)$/);
  const ok = await signedIn();
  if (invite) {
    // An invite for someone at ListenBrainz or Last.fm is proved there.
    try {
      const info = (await api("/api/v1/invites/" + encodeURIComponent(invite[1]))).data;
      if (info.addressee && !info.accepted) return provePage(invite[1], info.addressee);
    } catch (e) {
      if (e.status !== 404) throw e;
    }
  }
  if (!ok) {
    show("signin");
    if (invite) {
      $("invite-intro").hidden = false;
      $("signin").href = "/auth/spotify/login?next=" + encodeURIComponent(path);
    }
    return;
  }
  if (invite) return matchPage(invite[1]);
  if (path === "/" && !error) return location.replace("/discover");
  return discover();
}

main().catch((e) => notice(e.message || String(e)));
