/* Shelter Signal: the outreach map page, live.
 *
 * The page (map/page.py) creates the Leaflet map with Folium and then calls
 *   ShelterSignal.start(leafletMap, { apiBase: "/api/v1", lang: "en", strings: {...} })
 * This script loads GET {apiBase}/shelters, follows the event stream {apiBase}/events ("site"
 * events carry a whole site) and keeps the markers (markers.js), the list (list.js), the
 * city-wide totals (GET {apiBase}/summary) and the filters in step.
 *
 * Outreach workers may sign in with a key (apikey.js): the list and totals are then fetched
 * with it, so confidential sites come too, without where they are (no marker, only an entry
 * saying to call intake). The event stream stays the public view (EventSource cannot send a
 * key), so a signed-in page fetches each site an event names again with its key; a change at
 * a confidential site, which the stream never names, comes as a "hidden" event without data,
 * on which a signed-in page catches up: GET {apiBase}/shelters/changes, only the sites changed
 * since its list (also what every page asks when its stream reconnects).
 *
 * The page knows when its link is dead: the server sends a "keepalive" event whenever it has
 * sent nothing else for config.keepaliveSeconds, so hearing nothing for SILENT_PERIODS of those
 * means the connection is gone even if it never closed (a phone in a dead zone, a frozen
 * server): the badge then says "Not live", with how long ago the page last heard anything,
 * and the page opens a new connection.
 *
 * The first markers come before the list: map/page.py asks for the server's groups of the
 * whole city (GET {apiBase}/shelters/groups) while this script is on its way, and the page
 * shows them, and asks for those of each view the reader moves to, until the list has come.
 * The list is asked for once they are shown. A city of up to WHOLE_AT_ONCE sites (as the
 * groups count them) gets its whole list; a bigger one its first page (the entries it shows
 * first, in its order: GET {apiBase}/shelters?order=free&limit=50), and the whole list only
 * when something needs every site (filters, another order, Show more, Find a bed, a key): at
 * 10,000 sites it is 540 KB, 11 s on a weak signal (docs/map.md). Until then the server's
 * groups stay the markers, asked again when the stream says counts changed.
 *
 * Stable test hooks: #ss-connection data-state="live"|"offline" (and data-heard, the time the
 * page last heard from the server, in ms since the epoch); the markers' hooks are
 * described in markers.js, the list's entries are li.ss-entry[data-site-id][data-status].
 */
(function () {
  "use strict";

  const SS = window.ShelterSignal;
  const { t, number, esc } = SS.text;
  const S = SS.sites;

  const AGES_MS = 30000; // re-word "updated N minutes ago" and re-age the markers this often
  // Two keepalive periods unheard (30 s by default) is a dead link: one late keepalive on a
  // slow phone network is not (the server sends one every period when nothing else is sent).
  const SILENT_PERIODS = 2;
  const WATCH_SHARE = 1 / 3; // look at the link three times a keepalive period...
  const WATCH_MAX_MS = 5000; // ...at most every 5 s, so "N min ago" keeps up
  const RETRY_MS = 1000; // first wait before reconnecting when the browser gives up...
  const RETRY_MAX_MS = 30000; // ...doubling up to this
  // Counts arrive in bursts: refetch the totals at most this often (phones behind one address
  // share the server's public rate limit, 120 requests a minute by default).
  const TOTALS_MIN_GAP_MS = 30000;
  const FIRST_VIEW_MAX_ZOOM = 15; // one or two sites: show the streets around, not one building
  const NEAREST_IN_VIEW = 5; // "Near me" frames your location with this many nearest sites
  const LOCATION_TIMEOUT_MS = 15000; // a phone indoors may need a while for a fix
  const LOCATION_MAX_AGE_MS = 60000; // a fix from the last minute is good enough
  const WIDE = window.matchMedia("(min-width: 900px)"); // list beside the map (see map.css)
  const STORE_KEY = "shelter-signal.map"; // the view and filters; never the location
  const FIRST_LOAD_RETRY_MS = 5000; // the very first list failed: try again this soon
  // A city of up to this many sites gets its whole list instead of a first page: at
  // about 54 bytes a site gzipped (540 KB at 10,000, measured), 2,000 are about 110 KB, and
  // the first view stays within its 300 KB (docs/map.md). Every feature is then at hand at
  // once, and the offline copy is whole from the first visit.
  const WHOLE_AT_ONCE = 2000;
  // The list waits this long at most for the first markers: a dead zone hangs a request
  // rather than failing it (as sw.js's NETWORK_WAIT_MS, after which its kept copy answers).
  const FIRST_MARKERS_WAIT_MS = 4000;
  const KEY_STORE = "shelter-signal.outreach-key"; // the city page keeps its own key
  // A list counts as of this long before its answer: a count received just before is
  // committed a moment later (the server's catch-up keeps the same margin).
  const CATCH_UP_MARGIN_MS = 60000;
  // The offline copy (sw.js) follows the page's changes at most this often: a busy evening
  // sends a change a second, and each copy is the whole list.
  const KEEP_MS = 60000;

  function byId(id) {
    return document.getElementById(id);
  }

  function remembered() {
    try {
      return JSON.parse(localStorage.getItem(STORE_KEY)) || {};
    } catch {
      return {}; // storage blocked (private mode) or unreadable: start afresh
    }
  }

  function remember(choices) {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(choices));
    } catch {
      // storage blocked: the choices last for this visit only
    }
  }

  function start(map, config) {
    SS.text.setup(config);
    S.setTiming(config);
    const keepaliveMs = 1000 * Number(config.keepaliveSeconds || 15); // server's default
    const silentMs = SILENT_PERIODS * keepaliveMs;
    const apiBase = String(config.apiBase || "/api/v1").replace(/\/+$/, "");
    const form = byId("ss-filters");
    const status = byId("ss-status");
    const sortSelect = byId("ss-sort");
    const sites = new Map(); // id -> latest Site JSON, as this page may show it
    const keys = SS.apiKey.keyStore(KEY_STORE);
    const saved = remembered();
    let order = "free"; // "distance" once the reader shares a location
    let view = saved.view === "list" ? "list" : "map";
    let here = null; // { lat, lon } once the reader shares it; kept in memory only
    let firstLoad = true; // no list yet: the server's groups are the markers
    let whole = false; // the page has every site, not only the list's first page
    let total = 0; // until then, how many sites the first page said there are
    let placedSites = null; // how many sites the server's first groups hold: the city's size
    let groupsTimer = null; // until then, the server's groups are asked again after changes
    let groupsAsked = 0; // the number of the last groups asked for a view
    let loading = null; // { key, promise } of the list on its way
    let framed = false; // the first markers set the view: the list does not frame it again
    let drawQueued = false;
    let totalsAt = 0;
    let totalsTimer = null;
    let source = null;
    let retryMs = RETRY_MS;
    let reconnecting = false; // the stream was open before: catch up when it opens again
    let listBeforeOpen = false; // a list was had before the stream opened: it may miss a change
    let heardAt = 0; // when the server last said anything: an event, a keepalive, a list
    let connectedAt = 0; // when the current stream was opened
    let listAt = null; // the server's time the sites are known as of: a catch-up's `since`
    let keptAt = 0; // when the offline copy last followed the page
    // id -> when (this page's clock) the stream last brought that site, or its going. A list
    // asked before then may be older (the server answered it before that commit), and a site
    // it shows with no count yet has no time to lose to: it must not undo the stream's news.
    const streamedAt = new Map();
    let keepTimer = null;

    /* ---- the map's own furniture ---- */

    const container = map.getContainer();
    container.setAttribute("role", "region");
    container.setAttribute("aria-label", t("map.label"));
    L.control.zoom({ zoomInTitle: t("map.zoom_in"), zoomOutTitle: t("map.zoom_out") }).addTo(map);
    const Holder = L.Control.extend({
      onAdd() {
        return this.options.element;
      },
    });
    new Holder({ position: "bottomleft", element: byId("ss-legend") }).addTo(map);
    // Leaflet's credit as text, not a link: a link that small is no tap target (README credits
    // Leaflet). The legend keeps clear of the attribution, however tall it grows (map.css).
    map.attributionControl.setPrefix("Leaflet");
    const attribution = map.attributionControl.getContainer();
    new ResizeObserver(() =>
      container.style.setProperty("--ss-attribution-h", attribution.offsetHeight + "px"),
    ).observe(attribution);
    const tilesNotice = byId("ss-tiles-notice");
    map.on("popupopen", (e) => {
      const close = e.popup.getElement().querySelector(".leaflet-popup-close-button");
      if (close) close.setAttribute("aria-label", t("map.close"));
      container.classList.add("ss-popup-open"); // the legend and notices step aside (map.css)
    });
    map.on("popupclose", () => container.classList.remove("ss-popup-open"));
    // Without tiles the markers and the list still work; say why the background is blank.
    map.eachLayer((layer) => {
      if (!(layer instanceof L.TileLayer)) return;
      let loaded = 0;
      layer.on("tileload", () => {
        loaded += 1;
        tilesNotice.hidden = true;
      });
      layer.on("tileerror", () => {
        if (!loaded) tilesNotice.hidden = false;
      });
    });

    const layer = SS.markerLayer(map, { onView: groupsFor });
    // The parts of the page in the later scripts (page.py LATER_SCRIPTS), once they came:
    // the list, "Find a bed", wishes and holds (startLater).
    let list = null;
    let finder = null;
    let wishes = null;
    let holds = null;

    /* The later scripts, asked for once the first markers are shown. */
    function loadLater() {
      return new Promise((loaded, failed) => {
        const script = document.createElement("script");
        script.src = config.later;
        script.onload = loaded;
        script.onerror = () => failed(new Error("could not load " + config.later));
        document.head.append(script);
      });
    }

    function startTheRest() {
      loadLater().then(
        () => {
          startLater();
          return loadFirst().then(() => SS.offline.start(config.serviceWorker));
        },
        (err) => {
          console.warn("Shelter Signal:", err);
          byId("ss-list-count").textContent = t("list.failed");
          setTimeout(startTheRest, FIRST_LOAD_RETRY_MS);
        },
      );
    }

    function startLater() {
      list = SS.siteList(byId("ss-list"), byId("ss-more"), byId("ss-list-count"), (id) => {
        showView("map");
        layer.openSite(id, sites.get(String(id)));
      });
      byId("ss-more").addEventListener("click", needAll); // (list.js shows them once come)
      // "Find a bed" reads every site, whatever the filters: its needs are its own filter.
      finder = SS.finder(byId("ss-find"), { zone: config.timezone, onNeed: needAll });
      for (const button of tappedEarly) button.click(); // now the finder hears them
      // "Tell me when a bed opens" (notify.js): checked against every site the stream sends
      // (and, signed in where the server sends texts, the same wish by SMS)
      wishes = SS.notify.start({
        filters: () => filters(),
        here: () => here,
        texts: config.texts && { apiBase, keys, lang: config.lang },
      });
      holds = SS.holds.start({ apiBase, keys, announce, changed: loadAll });
      holds.refresh();
    }

    // Find a bed's buttons are on the page before find.js: a tap then (a phone on a weak
    // signal waits seconds for the later scripts) is kept and given to the finder once it
    // starts, not lost (seen as a flaky test: a tap on "Man" at once found nothing).
    const tappedEarly = [];
    byId("ss-find").addEventListener("click", (event) => {
      const button = event.target.closest("[data-who], [data-need]");
      if (!finder && button) tappedEarly.push(button);
    });

    /* ---- filters, order and view ---- */

    function filters() {
      const data = new FormData(form);
      return {
        sectors: new Set(data.getAll("sector")),
        space: data.has("space"),
        accepting: data.has("accepting"),
        eligibility: new Set(data.getAll("eligibility")),
      };
    }

    function activeFilters(f) {
      return f.sectors.size + f.eligibility.size + (f.space ? 1 : 0) + (f.accepting ? 1 : 0);
    }

    /* Something asked of the page reads every site, not only the list's first page: filters,
       an order other than the first page's, a key (confidential sites, holds), Find a bed
       with someone picked. */
    function needsWhole() {
      const f = filters();
      return Boolean(activeFilters(f) || order !== "free" || keys.get() || finder?.wanted());
    }

    /* Every site, once: resolves when the page has them. */
    function needAll() {
      return whole ? Promise.resolve() : loadAll();
    }

    function saveChoices() {
      const f = filters();
      remember({
        // Each under its boxes' name: restoreFilters reads them back by it.
        view,
        sector: [...f.sectors],
        space: f.space,
        accepting: f.accepting,
        eligibility: [...f.eligibility],
      });
    }

    function restoreFilters() {
      for (const box of form.querySelectorAll("input[type=checkbox]")) {
        const want = saved[box.name];
        box.checked = Array.isArray(want) ? want.includes(box.value) : want === true;
      }
    }

    /* Eligibility boxes appear once the server sends those fields (newer servers do). */
    function offerEligibility(site) {
      const fieldset = byId("ss-eligibility");
      for (const [name, field] of Object.entries(S.ELIGIBILITY)) {
        if (!(field in site) || fieldset.querySelector(`input[value="${name}"]`)) continue;
        const label = document.createElement("label");
        label.innerHTML =
          `<input type="checkbox" name="eligibility" value="${esc(name)}"> ` +
          esc(t("eligibility." + name));
        label.firstChild.checked = (saved.eligibility || []).includes(name);
        fieldset.append(label);
        fieldset.hidden = false;
      }
    }

    function showView(wanted) {
      view = wanted;
      document.body.dataset.view = view;
      for (const button of document.querySelectorAll(".ss-views button")) {
        button.setAttribute("aria-pressed", String(button.dataset.view === view));
      }
      map.invalidateSize(); // the map's box changes size when the list shows or hides
      saveChoices();
    }

    function announce(text) {
      status.textContent = text;
    }

    /* ---- drawing: everything from `sites` through the filters ---- */

    function queueDraw() {
      if (drawQueued) return;
      drawQueued = true;
      requestAnimationFrame(draw);
    }

    function draw() {
      drawQueued = false;
      // Before the first list, the server's groups are the markers (and events wait in
      // `sites` for it): a few sites from the stream would stand for the whole city.
      if (firstLoad) return [];
      if (!whole) return drawFirstPage();
      const f = filters();
      const shown = [];
      const all = [];
      for (const site of sites.values()) {
        const now = S.aged(site); // counts get old with time, events or not
        all.push(now);
        const seen = S.view(now, f);
        if (seen) shown.push(seen);
      }
      finder.update(all, here);
      layer.setSites(shown);
      list.update(S.sorted(shown, order, here), sites.size, here);
      const on = activeFilters(f);
      byId("ss-filter-count").textContent = on ? t("filters.count", { n: on }) : "";
      return shown;
    }

    /* Only the list's first page (and what the stream brought since): the list shows it, in
       the page's order; the server's groups stay the markers, with the page's newer counts. */
    function drawFirstPage() {
      const known = [...sites.values()].map(S.aged);
      layer.renew((site) => {
        const mine = sites.get(String(site.id));
        return S.aged(mine && !isOlder(mine, site) ? mine : site);
      });
      finder.update(null, here);
      list.update(S.sorted(known, "free", here), total, here, total);
      if (needsWhole()) byId("ss-list-count").textContent = t("list.loading_all");
      byId("ss-filter-count").textContent = "";
      return known;
    }

    function drawAndAnnounce() {
      const shown = draw();
      const all = whole ? sites.size : total;
      const matching = whole ? shown.length : total;
      announce(t("list.count", { n: all, shown: number(matching), total: number(all) }));
    }

    /* ---- data: the list, the event stream, the totals ---- */

    function isOlder(incoming, current) {
      // A slow /shelters answer must not overwrite a newer count from the event stream.
      const a = Date.parse(incoming.updated_at);
      const b = Date.parse(current.updated_at);
      return !Number.isNaN(a) && !Number.isNaN(b) && a < b;
    }

    function applySite(incoming) {
      if (!incoming || incoming.id == null) return;
      const site = S.withoutHiddenPlace(incoming);
      const id = String(site.id);
      const current = sites.get(id);
      if (current && isOlder(site, current)) return;
      sites.set(id, site);
      offerEligibility(site);
    }

    /* GET apiBase + path with this tab's outreach key, if any (or with `key`). */
    function api(path, key = keys.get(), meta = {}) {
      return SS.apiKey.getJson(apiBase + path, key, meta);
    }

    /* The server no longer takes the kept key (revoked): sign out, say why, show the public
       view. True when that is what `error` meant. */
    function keyRefused(error) {
      if (!keys.get() || (error.status !== 401 && error.status !== 403)) return false;
      outreachKey.signOut(t("outreach.key.ended", { code: error.status }));
      return true;
    }

    /* The list's first page; the whole list in a small city (by the first groups), or when
       something needs it already. */
    function loadFirst() {
      const small = placedSites != null && placedSites <= WHOLE_AT_ONCE;
      return small || needsWhole() ? loadAll() : loadList(keys.get(), true);
    }

    /* What the page has again: the whole list, or the first page. */
    function reload() {
      return whole ? loadAll() : loadFirst();
    }

    /* The whole list, with this tab's key. Asked again while it is on its way with the same
       key (a catch-up before the first list came), the one on its way answers: at 10,000
       sites a second would be another 540 KB. */
    function loadAll() {
      const key = keys.get();
      if (loading?.key === key) return loading.promise;
      const promise = loadList(key, false).finally(() => {
        if (loading?.promise === promise) loading = null;
      });
      loading = { key, promise };
      return promise;
    }

    /* The whole list, or its `first` page: the entries the list shows first, in its order. */
    async function loadList(key, first) {
      try {
        const meta = {};
        const asked = Date.now();
        const path = first ? `/shelters?order=free&limit=${SS.siteList.PAGE}` : "/shelters";
        const body = await api(path, key, meta);
        if (key !== keys.get()) return; // signed in or out meanwhile: that loads its own list
        if (first && whole) return; // the whole list came first
        if (meta.savedAt == null) heard();
        else {
          // the offline copy (sw.js): the last update is when it was fetched
          heardAt = Math.max(heardAt, meta.savedAt - SS.text.serverNow() + Date.now());
          setConnection("offline");
        }
        listAt = (meta.savedAt ?? SS.text.serverNow()) - CATCH_UP_MARGIN_MS;
        const items = body.items || [];
        // (sw.js's kept copy answers a first page with the whole list it kept, and no total)
        const complete = !first || !(body.total > items.length);
        const seen = new Set();
        const newer = (id) => (streamedAt.get(id) ?? -Infinity) >= asked;
        for (const site of items) {
          seen.add(String(site.id));
          if (!newer(String(site.id))) applySite(site);
        }
        // What the answer leaves out is gone, or (a first page) ranked below it now: the page
        // holds the answer and the stream's news since it was asked, never an older count.
        for (const id of [...sites.keys()]) if (!seen.has(id) && !newer(id)) sites.delete(id);
        if (complete) {
          whole = true;
          clearTimeout(groupsTimer);
        } else total = body.total;
        if (!source || source.readyState !== EventSource.OPEN) listBeforeOpen = true;
        if (firstLoad) {
          firstLoad = false;
          // the first markers framed the view already: the reader may have moved it since
          if (!framed) layer.fit([...sites.values()], FIRST_VIEW_MAX_ZOOM);
        }
        draw();
        keepSoon(); // the offline copy is what the page has: sw.js does not fetch it again
        // (no first groups came: the markers need the whole list, as does a small city)
        if (!complete && (placedSites == null || total <= WHOLE_AT_ONCE || needsWhole())) {
          loadAll();
        }
      } catch (err) {
        if (keyRefused(err)) return; // signing out loads the public list
        console.warn("Shelter Signal: could not load shelters", err);
        if (firstLoad || (!first && !whole)) {
          byId("ss-list-count").textContent = t("list.failed");
          setTimeout(first ? loadFirst : loadAll, FIRST_LOAD_RETRY_MS);
        }
      }
      loadTotals();
    }

    /* The server's groups for the view the page first shows (page.py asked for them), and
       resolves when they are shown or FIRST_MARKERS_WAIT_MS has passed, whichever is first.
       Shown whenever they come, if the list has not. */
    function firstMarkers() {
      const asked = window.ShelterSignalFirst;
      if (!asked) return Promise.resolve(); // filters remembered: the list draws them
      const shown = asked.then(
        (answer) => {
          placedSites = answer.groups.reduce((n, group) => n + group.sites, answer.items.length);
          if (whole || !answer.bounds) return; // the list came first, or nothing to place
          const [minLon, minLat, maxLon, maxLat] = answer.bounds;
          const corners = [
            { lat: minLat, lon: minLon },
            { lat: maxLat, lon: maxLon },
          ];
          layer.fit(corners, FIRST_VIEW_MAX_ZOOM); // as the list would frame every site
          framed = true;
          // For a map of the size page.py guessed: when the zoom that fits differs, shown
          // all the same (a little crowded or sparse) while the layer asks for its own.
          layer.showGroups(withAges(answer), answer.zoom, null);
        },
        (err) => console.warn("Shelter Signal: no first markers", err),
      );
      return Promise.race([shown, new Promise((done) => setTimeout(done, FIRST_MARKERS_WAIT_MS))]);
    }

    /* The groups of a view the reader moved to before the list came (`box`: L.LatLngBounds). */
    async function groupsFor(zoom, box) {
      const edge = (n, limit) => Math.max(-limit, Math.min(limit, n)).toFixed(5);
      const bbox = [
        edge(box.getWest(), 180),
        edge(box.getSouth(), 90),
        edge(box.getEast(), 180),
        edge(box.getNorth(), 90),
      ].join(",");
      const mine = ++groupsAsked; // a refresh and a move may cross: only the last one counts
      try {
        const answer = await api(`/shelters/groups?zoom=${zoom}&bbox=${bbox}`);
        if (!whole && mine === groupsAsked) layer.showGroups(withAges(answer), zoom, box);
      } catch (err) {
        console.warn("Shelter Signal: no groups for this view", err); // the list brings them
      }
    }

    /* A groups answer with its sites as this page shows them (aged by its own clock). */
    function withAges(answer) {
      return { ...answer, items: answer.items.map((site) => S.aged(S.withoutHiddenPlace(site))) };
    }

    /* The offline copy follows the page: what the event stream and catch-ups changed, kept
       as of when the page last heard from the server. Public pages only: what a key fetched
       never rests on a phone. */
    function keepSoon() {
      if (keepTimer || !whole) return; // a first page and a few changes are not the list
      keepTimer = setTimeout(
        () => {
          keepTimer = null;
          keptAt = Date.now();
          if (keys.get()) return;
          // (just signed out, the list may not be the public one yet: never a confidential one)
          const shown = [...sites.values()].filter((site) => !site.confidential);
          SS.offline.keep(shown, SS.text.serverNow() - (Date.now() - heardAt));
        },
        Math.max(0, keptAt + KEEP_MS - Date.now()),
      );
    }

    /* Only what changed since the sites were known (GET /shelters/changes), with the key when
       signed in: after the stream was away, or when a change the public stream cannot show
       (a confidential site) happened. The whole list when there is none yet, or the
       catch-up fails. */
    async function catchUp() {
      const key = keys.get();
      if (listAt == null) return reload();
      try {
        const since = new Date(listAt).toISOString();
        const body = await api(`/shelters/changes?since=${encodeURIComponent(since)}`, key);
        if (key !== keys.get()) return; // signed in or out meanwhile: that loads its own list
        heard();
        listAt = Date.parse(body.until);
        for (const site of body.items) {
          const before = sites.get(String(site.id));
          applySite(site);
          wishes?.check(before, sites.get(String(site.id))); // (none before notify.js came)
        }
        for (const id of body.gone) sites.delete(String(id));
        queueDraw();
        totalsSoon();
        keepSoon();
      } catch (err) {
        if (keyRefused(err)) return; // signing out loads the public list
        reload();
      }
    }

    /* Shows the city-wide totals; resolves to the summary, or null if it could not be had. */
    async function loadTotals() {
      clearTimeout(totalsTimer);
      totalsAt = Date.now();
      const section = byId("ss-totals");
      try {
        const body = await api("/summary");
        byId("ss-totals-list").innerHTML = (body.sectors || []).map(totalHtml).join("");
        section.hidden = !(body.sectors || []).length;
        return body;
      } catch (err) {
        section.hidden = true; // a server without /summary: the map works without totals
        keyRefused(err);
        return null;
      }
    }

    /* One sector's total: free places by fresh and aging counts only, and how many programs
       have no such count; "no current count" when none has, never "0 free". */
    function totalHtml(s) {
      const unknown = s.programs - s.programs_current;
      const free = s.programs_current
        ? t("totals.item", { n: s.available_current, free: number(s.available_current) })
        : t("totals.none");
      const note = s.programs_current && unknown ? t("totals.unknown", { n: unknown }) : "";
      return (
        `<li data-sector="${esc(s.sector)}" data-free="${s.programs_current ? esc(s.available_current) : ""}">` +
        `<span class="ss-sector">${esc(t("sector." + s.sector))}</span> ` +
        `<strong>${esc(free)}</strong>${note ? ` <span class="ss-muted">${esc(note)}</span>` : ""}</li>`
      );
    }

    /* One site as `key` may see it, or null (not had: the next refresh brings it). */
    async function siteForKey(id, key) {
      try {
        const site = await api("/shelters/" + encodeURIComponent(id), key);
        return key === keys.get() ? site : null; // signed out meanwhile: not for this view
      } catch (err) {
        if (!keyRefused(err)) console.warn("Shelter Signal: could not load shelter " + id, err);
        return null;
      }
    }

    /* Before the whole list, the server's groups of the view again, at most this often: their
       counts are the markers' (the stream's sites shown on their own are renewed at once). */
    function groupsSoon() {
      if (whole || groupsTimer) return;
      groupsTimer = setTimeout(() => {
        groupsTimer = null;
        if (!whole) layer.refresh();
      }, TOTALS_MIN_GAP_MS);
    }

    function totalsSoon() {
      const wait = totalsAt + TOTALS_MIN_GAP_MS - Date.now();
      clearTimeout(totalsTimer);
      totalsTimer = setTimeout(loadTotals, Math.max(0, wait));
    }

    function setConnection(state) {
      const banner = byId("ss-connection");
      banner.dataset.state = state;
      banner.dataset.heard = String(heardAt);
      if (state === "live") banner.textContent = t("connection.live");
      else if (!heardAt) banner.textContent = t("connection.offline");
      else {
        const minutes = Math.floor((Date.now() - heardAt) / 60000);
        // no network at all (the phone says so), or a network that does not answer
        const words = navigator.onLine === false ? "connection.offline_since" : "connection.silent";
        banner.textContent = t(words, { ago: SS.text.agePhrase(minutes) });
      }
    }

    function heard() {
      heardAt = Date.now();
    }

    /* The stream spoke: the link is alive (again, if it had gone silent). */
    function alive() {
      heard();
      setConnection("live");
    }

    /* The stream said nothing, not even a keepalive, for silentMs: the link is dead whatever
       the browser thinks. Say so and open a new connection (again each silentMs it stays
       silent: a connection opened into a dead zone hangs as quietly as the old one). */
    function watchLink() {
      const now = Date.now();
      if (now - heardAt < silentMs) return;
      setConnection("offline"); // rewords "last update N min ago" as time passes
      if (source && now - connectedAt >= silentMs) {
        source.close();
        connect();
      }
    }

    function connect() {
      connectedAt = Date.now();
      source = new EventSource(apiBase + "/events");
      source.addEventListener("keepalive", alive);
      source.addEventListener("open", () => {
        heard();
        retryMs = RETRY_MS;
        setConnection("live");
        // Catch up on what changed while disconnected, with the key when signed in; and on a
        // first connection that opened after the list came (a change between the two would
        // be in neither). Nothing is fetched again on a timer: the stream carries every change.
        if (reconnecting || listBeforeOpen) catchUp();
        reconnecting = true;
        listBeforeOpen = false;
      });
      source.addEventListener("site", async (ev) => {
        alive();
        let site;
        try {
          site = JSON.parse(ev.data);
        } catch (err) {
          console.warn("Shelter Signal: bad site event", err);
          return;
        }
        // The event is the public view; a signed-in page shows the site as its key sees it.
        const key = keys.get();
        if (key) site = await siteForKey(site.id, key);
        if (!site) return;
        const before = sites.get(String(site.id));
        applySite(site);
        streamedAt.set(String(site.id), Date.now());
        wishes?.check(before, sites.get(String(site.id))); // (none before notify.js came)
        queueDraw();
        totalsSoon();
        groupsSoon();
        keepSoon();
      });
      // A site the public saw has no program open now (a warming centre closed): off the
      // page; a signed-in page fetches what its key sees instead.
      source.addEventListener("gone", (ev) => {
        alive();
        if (keys.get()) return catchUp();
        const id = String(JSON.parse(ev.data).id);
        sites.delete(id);
        streamedAt.set(id, Date.now());
        queueDraw();
        totalsSoon();
        groupsSoon();
        keepSoon();
      });
      // A site the public may not see changed: only a signed-in page has anything to fetch.
      source.addEventListener("hidden", () => {
        alive();
        if (keys.get()) catchUp();
      });
      source.addEventListener("error", () => {
        setConnection("offline");
        // CONNECTING: the browser retries by itself. CLOSED (an HTTP error): it gave up, so
        // we retry, waiting longer each time.
        if (source.readyState === EventSource.CLOSED) {
          source.close();
          setTimeout(connect, retryMs);
          retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
        }
      });
    }

    /* ---- near me ---- */

    function locate() {
      if (!navigator.geolocation) {
        announce(t("near.unsupported"));
        return;
      }
      announce(t("near.locating"));
      navigator.geolocation.getCurrentPosition(
        async (position) => {
          here = { lat: position.coords.latitude, lon: position.coords.longitude };
          order = "distance";
          sortSelect.value = order;
          await needAll(); // the nearest of every site, not of the first page
          const nearest = S.sorted(draw(), "distance", here)
            .filter((s) => s.lat != null && s.lon != null)
            .slice(0, NEAREST_IN_VIEW);
          layer.showHere([here.lat, here.lon], nearest);
          announce(t("near.found"));
        },
        (error) => {
          announce(t(error.code === error.PERMISSION_DENIED ? "near.denied" : "near.unavailable"));
          if (order === "distance") {
            order = "free";
            sortSelect.value = order;
            draw();
          }
        },
        { enableHighAccuracy: true, timeout: LOCATION_TIMEOUT_MS, maximumAge: LOCATION_MAX_AGE_MS },
      );
    }

    /* ---- outreach sign-in ---- */

    const keyToggle = byId("ss-key-toggle");
    const keySection = byId("ss-key");

    function showKeyState() {
      const signedIn = Boolean(keys.get());
      keyToggle.hidden = signedIn; // signed in, the section stays open: the state is always seen
      keySection.hidden = !signedIn && keyToggle.getAttribute("aria-expanded") !== "true";
      map.invalidateSize(); // the panel above the map grew or shrank
    }

    keyToggle.addEventListener("click", () => {
      const open = keyToggle.getAttribute("aria-expanded") !== "true";
      keyToggle.setAttribute("aria-expanded", String(open));
      showKeyState();
      if (open) byId("ss-key-input").focus();
    });
    const outreachKey = SS.apiKey.keyPrompt(keys, keySection, {
      check: (key) => api("/summary", key), // the server checks a key on every request
      explain: (error) =>
        error.status === 401 || error.status === 403
          ? t("outreach.key.rejected", { code: error.status })
          : t("outreach.key.failed", { message: error.message }),
      onChange: (signedIn) => {
        // signed out: the form stays in view, with the reason when the server ended it
        if (!signedIn) keyToggle.setAttribute("aria-expanded", "true");
        showKeyState();
        loadAll();
        holds?.refresh(); // (holds.js not here yet: it refreshes when it starts)
      },
    });

    /* ---- wiring ---- */

    restoreFilters();
    sortSelect.value = order;
    showView(view);
    form.addEventListener("change", () => {
      list?.reset(); // (no list.js yet: nothing shown to reset)
      saveChoices();
      if (list && needsWhole()) needAll(); // (before list.js, loadFirst sees to it)
      drawAndAnnounce();
    });
    form.addEventListener("reset", () => setTimeout(() => form.dispatchEvent(new Event("change"))));
    const toggle = byId("ss-filters-toggle");
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      form.hidden = !open;
      map.invalidateSize();
    });
    for (const button of document.querySelectorAll(".ss-views button")) {
      button.addEventListener("click", () => showView(button.dataset.view));
    }
    sortSelect.addEventListener("change", () => {
      order = sortSelect.value;
      if (list && needsWhole()) needAll();
      if (order === "distance" && !here) locate();
      else drawAndAnnounce();
    });
    byId("ss-near").addEventListener("click", locate);
    WIDE.addEventListener("change", () => map.invalidateSize());

    showKeyState();
    // The first markers, then the later scripts, then the list (the list draws with them),
    // then the offline copy (its worker fetches what the page loaded again).
    firstMarkers().then(startTheRest);
    connect();
    // Distances for "Find a bed" without asking, only where the browser already lets this
    // page know the location (asking stays the reader's act: Near me).
    navigator.permissions?.query({ name: "geolocation" }).then(
      (answer) => {
        if (answer.state !== "granted") return;
        navigator.geolocation.getCurrentPosition(
          (position) => {
            here = here || { lat: position.coords.latitude, lon: position.coords.longitude };
            queueDraw();
          },
          () => {}, // no fix now: the finder lists most free first, as without a location
          { timeout: LOCATION_TIMEOUT_MS, maximumAge: LOCATION_MAX_AGE_MS },
        );
      },
      () => {}, // a browser without the Permissions API: Near me still asks
    );
    setInterval(() => {
      SS.text.refreshAges();
      queueDraw(); // fresh turns aging, then stale, with time: markers and order follow
    }, AGES_MS);
    setInterval(watchLink, Math.min(WATCH_MAX_MS, keepaliveMs * WATCH_SHARE));
    // Phones suspend background tabs; catch up as soon as the page is looked at again.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") catchUp();
    });
  }

  SS.start = start;
})();
