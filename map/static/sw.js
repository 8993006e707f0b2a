/* Shelter Signal service worker: the outreach map opens with no signal.
 *
 * Served at /sw.js (scope: the whole site). It keeps:
 *   - the app shell: the page and its /static files, network first (a fresh page when the
 *     network answers within NETWORK_WAIT_MS), the kept copy otherwise;
 *   - the last public list and totals (/api/v1/shelters, /api/v1/summary), network first;
 *     a first page of the list (`limit`) is never kept, and answered with the whole kept
 *     list when the network does not answer; a kept copy carries SAVED_AT (the server's Date when it was fetched) and no Date, so
 *     the page shows counts with their true age and says how old its copy is. Answers to a
 *     request with a key are never kept: confidential shelters never rest on a phone;
 *   - map tiles, cache first, at most TILE_LIMIT, the oldest dropped first.
 * The event stream is never touched. The page (offline.js) sends the URLs it already loaded
 * once the worker is active, so the first visit is kept too.
 */
"use strict";

const SHELL = "ss-shell-1"; // bump when the kept shell must be thrown away
const DATA = "ss-data";
const TILES = "ss-tiles";
const KEPT = [SHELL, DATA, TILES];
const SAVED_AT = "X-Shelter-Signal-Saved";
const LIST = "/api/v1/shelters";
const SUMMARY = "/api/v1/summary";
const LISTS = [LIST, SUMMARY];
// A phone in a dead zone does not fail a request, it hangs: after this long the kept copy
// answers (a loaded phone network answers the page in about a second: docs/benchmarks.md).
const NETWORK_WAIT_MS = 4000;
// About a city's worth at the zooms a worker uses (a 256 px tile is 10 to 30 KB: 6 to 18 MB).
const TILE_LIMIT = 600;

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => !KEPT.includes(n)).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

/* The page's own first load happened before this worker ran: keep what it names, and the
   totals. The list comes from the page itself: a public page sends its list as it shows it
   ({list, savedAt}) once it has it and as the event stream changes it, so the kept copy is
   as fresh as the page; fetching it here as well cost a phone the whole list twice (540 KB
   gzipped at 10,000 shelters: docs/benchmarks.md). */
self.addEventListener("message", (event) => {
  if (event.data && event.data.list) {
    event.waitUntil(keepList(event.data.list, event.data.savedAt));
    return;
  }
  const urls = (event.data && event.data.keep) || [];
  event.waitUntil(
    Promise.all([
      ...urls.filter((url) => new URL(url).origin === location.origin).map((url) => shell(new Request(url))),
      data(new Request(SUMMARY)),
    ]).catch(() => {}), // offline meanwhile: the next load keeps them
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== location.origin) {
    if (request.destination === "image") event.respondWith(tile(request));
    return;
  }
  if (LISTS.includes(url.pathname)) {
    if (!request.headers.has("Authorization")) event.respondWith(data(request));
    return;
  }
  if (request.mode === "navigate" ? url.pathname === "/" : url.pathname.startsWith("/static/")) {
    event.respondWith(shell(request));
  }
});

/* fetch(request), or a rejection after NETWORK_WAIT_MS. */
function network(request) {
  return Promise.race([
    fetch(request),
    new Promise((_, reject) => setTimeout(() => reject(new Error("no answer")), NETWORK_WAIT_MS)),
  ]);
}

async function shell(request) {
  const cache = await caches.open(SHELL);
  try {
    const response = await network(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const kept = await cache.match(request);
    if (kept) return kept;
    throw error;
  }
}

async function data(request) {
  const cache = await caches.open(DATA);
  const url = new URL(request.url);
  const key = url.pathname; // the public list: one copy, the whole one
  try {
    const response = await network(request);
    if (response.ok && !url.searchParams.has("limit")) {
      const headers = new Headers(response.headers);
      headers.set(SAVED_AT, response.headers.get("Date") || new Date().toUTCString());
      for (const name of ["Date", "Content-Encoding", "Content-Length"]) headers.delete(name);
      const body = await response.clone().blob();
      await cache.put(key, new Response(body, { status: response.status, headers }));
    }
    return response;
  } catch (error) {
    const kept = await cache.match(key);
    if (kept) return kept;
    throw error;
  }
}

async function keepList(items, savedAt) {
  const cache = await caches.open(DATA);
  const headers = { "Content-Type": "application/json", [SAVED_AT]: savedAt };
  await cache.put(LIST, new Response(JSON.stringify({ items }), { headers }));
}

async function tile(request) {
  const cache = await caches.open(TILES);
  const kept = await cache.match(request.url);
  if (kept) return kept;
  // CORS, so the tile can be kept at its own size (an opaque one costs megabytes of quota)
  const response = await fetch(request.url, { mode: "cors" }).catch(() => fetch(request));
  if (response.ok && response.type !== "opaque") {
    await cache.put(request.url, response.clone());
    const names = await cache.keys();
    for (const old of names.slice(0, Math.max(0, names.length - TILE_LIMIT))) await cache.delete(old);
  }
  return response;
}
