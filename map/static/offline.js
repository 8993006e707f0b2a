/* Shelter Signal: the outreach map with no signal (the service worker is sw.js).
 *
 * start() registers the worker for the whole site and, once it is active, tells it which
 * URLs this page already loaded (the page, its scripts and styles, tiles): the worker was not
 * running when they loaded, and must keep them for a visit with no signal. keep() hands it
 * the public list as the page shows it after the event stream changed it.
 */
(function () {
  "use strict";

  const SS = window.ShelterSignal;

  function start(swUrl) {
    if (!("serviceWorker" in navigator)) return; // an old browser: online only, as before
    navigator.serviceWorker
      .register(swUrl, { scope: "/" })
      .then(() => navigator.serviceWorker.ready)
      .then((registration) => {
        // the page's own scripts and styles by name too: the browser's list of what it
        // loaded holds 250 entries by default, and tiles fill it
        const named = [...document.querySelectorAll("script[src], link[rel=stylesheet]")];
        const loaded = [
          ...new Set([
            ...named.map((element) => element.src || element.href),
            ...performance.getEntriesByType("resource").map((entry) => entry.name),
          ]),
        ].filter((url) => new URL(url).pathname.startsWith("/static/"));
        registration.active.postMessage({ keep: [location.href, ...loaded] });
      })
      .catch((error) => console.warn("Shelter Signal: no offline copy", error));
  }

  /* Have the worker keep the public list as the page now shows it, known as of `at` (the
     server's clock, ms): what a visit with no signal will show. Never a signed-in list. The
     worker may not control this page yet (its first visit): the registration's is asked. */
  function keep(items, at) {
    if (!("serviceWorker" in navigator)) return;
    const message = { list: items, savedAt: new Date(at).toUTCString() };
    navigator.serviceWorker.ready.then((registration) => registration.active.postMessage(message));
  }

  SS.offline = { start, keep };
})();
