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
        const loaded = performance
          .getEntriesByType("resource")
          .map((entry) => entry.name)
          .filter((url) => new URL(url).pathname.startsWith("/static/"));
        registration.active.postMessage({ keep: [location.href, ...loaded] });
      })
      .catch((error) => console.warn("Shelter Signal: no offline copy", error));
  }

  /* Have the worker keep the public list as the page now shows it, known as of `at` (the
     server's clock, ms): what a visit with no signal will show. Never a signed-in list. */
  function keep(items, at) {
    const worker = navigator.serviceWorker && navigator.serviceWorker.controller;
    if (worker) worker.postMessage({ list: items, savedAt: new Date(at).toUTCString() });
  }

  SS.offline = { start, keep };
})();
