/* Shelter Signal: the city staff page (/city, map/templates/city.html).
 *
 * Five parts, each filled from the API on its own so one failing part never blanks another:
 *   right now (GET /summary), shelters with old counts (GET /shelters), free beds by sector
 *   over time (GET /history/sectors), one shelter's occupancy (GET /history?site_id=) and the
 *   dial fleet (GET /devices). History and devices need a city key: it is asked for on the
 *   page and kept for this tab only (apikey.js).
 */
(function () {
  "use strict";

  const SS = window.ShelterSignal;
  const KEY_STORE = "shelter-signal.key"; // this tab's city key (apikey.js); the map keeps its own
  const DAY_MS = 24 * 3600 * 1000;
  const RANGES = {
    // the range menu: how far back, and the bucket size the history API should use
    day: { span: DAY_MS, interval: "hour" },
    week: { span: 7 * DAY_MS, interval: "hour" },
    month: { span: 30 * DAY_MS, interval: "day" },
  };
  const HOURLY_UP_TO_DAYS = 3; // a chosen range longer than this is charted by day
  const DEFAULT_SITE_DAYS = 7; // one shelter's chart starts on the last week
  const WEAK_SIGNAL_DBM = -80; // below this Wi-Fi drops often: worth a look
  const REFRESH_MS = 60000; // "right now" parts refresh every minute
  const STATUSES = ["online", "offline", "lost", "unknown"];
  // A web dial (its id starts "web-": docs/web-dial.md) never sends a status; it is judged by
  // its last save instead: within WEB_SAVED_MS it counts as online (the stale age's default,
  // SIGNAL_STALE_MINUTES: after it, its counts are old anyway), before that offline, and a
  // web dial that never saved as never connected.
  const WEB_PREFIX = "web-";
  const WEB_SAVED_MS = 180 * 60 * 1000;

  function start() {
    const config = JSON.parse(document.getElementById("ss-config").textContent);
    SS.text.setup(config);
    const { t, number, esc } = SS.text;
    const S = SS.sites;
    const apiBase = config.apiBase;
    const sections = {};
    const parts = ["key", "now", "stale", "sectors", "site", "fleet", "turnaways", "alerts"];
    for (const id of parts) {
      sections[id] = document.getElementById("ss-" + id);
    }
    let siteNames = new Map(); // site id -> name, for the fleet table
    const keys = SS.apiKey.keyStore(KEY_STORE);

    function api(path) {
      return SS.apiKey.getJson(apiBase + path, keys.get());
    }

    function note(section, text) {
      section.querySelector(".ss-note").textContent = text;
    }

    /* Turns a failed request into words: no key, a refused key, an older server, or why. */
    function failed(section, error) {
      if (error.status === 401 || error.status === 403) {
        note(
          section,
          keys.get() ? t("city.key.rejected", { code: error.status }) : t("city.chart.needs_key"),
        );
      } else if (error.status === 404) {
        note(section, t("city.chart.unavailable"));
      } else {
        note(section, t("city.chart.failed", { message: error.message }));
      }
    }

    function part(section, load) {
      note(section, t("city.loading"));
      return load().then(
        () => note(section, ""),
        (error) => failed(section, error),
      );
    }

    /* ---- right now ---- */

    function loadNow() {
      return part(sections.now, async () => {
        const summary = await api("/summary");
        const tiles = [...summary.sectors, summary.total].map(tileHtml);
        sections.now.querySelector(".ss-tiles").innerHTML = tiles.join("");
      });
    }

    /* One sector's numbers now (or all sectors', when s.sector is null). */
    function tileHtml(s) {
      const name = s.sector ? t("sector." + s.sector) : t("city.now.total");
      // No program counted: unknown, never "0" (which would read as "no beds").
      const counted = s.programs_reporting > 0;
      const big = counted ? number(s.available) : "?";
      const free = counted
        ? t("city.now.free", { n: s.available, free: big, capacity: number(s.capacity) })
        : t("status.unknown");
      const reporting = t("city.now.reporting", {
        reporting: number(s.programs_reporting),
        programs: number(s.programs),
      });
      const old = s.programs_by_freshness.stale + s.programs_by_freshness.unknown;
      const oldText = old ? `<br>${esc(t("city.now.old", { n: old, old: number(old) }))}` : "";
      const held = s.held
        ? `<br>${esc(t("city.now.held", { n: s.held, held: number(s.held) }))}`
        : "";
      return (
        `<li class="${s.sector ? "" : "ss-total"}"><h3>${esc(name)}</h3>` +
        `<p class="ss-big">${esc(big)}</p><p>${esc(free)}</p>` +
        `<p class="ss-muted">${esc(reporting)}${held}${oldText}</p></li>`
      );
    }

    /* ---- shelters with old counts ---- */

    function loadStale() {
      return part(sections.stale, async () => {
        const body = await api("/shelters");
        siteNames = new Map(body.items.map((s) => [String(s.id), s.name]));
        fillSiteMenu(body.items);
        const old = body.items
          .filter((s) => !S.isCurrent(S.statusOf(s)))
          .sort((a, b) => String(a.updated_at || "").localeCompare(String(b.updated_at || "")));
        const wrap = sections.stale.querySelector(".ss-table-wrap");
        if (!old.length) {
          wrap.innerHTML = `<p>${esc(t("city.stale.none"))}</p>`;
          return;
        }
        const rows = old.map(staleRowHtml).join("");
        wrap.innerHTML =
          `<table><thead><tr><th scope="col">${esc(t("city.stale.name"))}</th>` +
          `<th scope="col">${esc(t("city.stale.state"))}</th>` +
          `<th scope="col">${esc(t("city.stale.updated"))}</th>` +
          `<th scope="col">${esc(t("city.stale.phone"))}</th></tr></thead>` +
          `<tbody>${rows}</tbody></table>`;
      });
    }

    function staleRowHtml(site) {
      const status = S.statusOf(site);
      const phone = site.phone
        ? `<a href="${esc(S.telHref(site.phone))}">${esc(site.phone)}</a>`
        : "";
      return (
        `<tr data-site-id="${esc(site.id)}" data-status="${esc(status)}">` +
        `<th scope="row">${esc(site.name)}</th>` +
        `<td><span class="ss-state ss-${esc(status)}">${esc(t("status." + status))}</span></td>` +
        `<td>${SS.text.timeHtml(site.updated_at)}</td><td>${phone}</td></tr>`
      );
    }

    /* ---- free beds by sector over time ---- */

    function loadSectors() {
      const range = RANGES[sections.sectors.querySelector("select[name=range]").value];
      const start = new Date(Date.now() - range.span).toISOString();
      return part(sections.sectors, async () => {
        const body = await api(
          `/history/sectors?interval=${range.interval}&start=${encodeURIComponent(start)}`,
        );
        const series = body.sectors.map((s, i) => ({
          name: t("sector." + s.sector),
          style: i,
          // a bucket in which no program of the sector had counted yet is a gap, not a zero
          points: s.points
            .filter((p) => p.programs_reporting > 0)
            .map((p) => [Date.parse(p.start), p.available]),
        }));
        sections.sectors.querySelector(".ss-chart").innerHTML = SS.charts.lineChart(
          t("city.sectors.heading"),
          series,
        );
      });
    }

    /* ---- one shelter's occupancy ---- */

    const siteForm = sections.site.querySelector("form");

    function fillSiteMenu(items) {
      const select = siteForm.elements.site;
      const chosen = select.value;
      select.innerHTML = [...items]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((s) => `<option value="${esc(s.id)}">${esc(s.name)}</option>`)
        .join("");
      if (chosen) select.value = chosen;
    }

    function isoDate(ms) {
      const d = new Date(ms);
      return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
    }

    function loadSite() {
      const { site, from, to } = siteForm.elements;
      if (!site.value) return Promise.resolve();
      if (from.value > to.value) {
        note(sections.site, t("city.range.invalid"));
        return Promise.resolve();
      }
      // Dates without a time zone: the server reads them in the city's zone (whole local days).
      const end = new Date(Date.parse(to.value) + DAY_MS).toISOString().slice(0, 10);
      const days = (Date.parse(end) - Date.parse(from.value)) / DAY_MS;
      const interval = days > HOURLY_UP_TO_DAYS ? "day" : "hour";
      const query =
        `/history?site_id=${encodeURIComponent(site.value)}&interval=${interval}` +
        `&start=${from.value}T00:00:00&end=${end}T00:00:00`;
      return part(sections.site, async () => {
        const body = await api(query);
        const series = body.series.flatMap((s, i) => [
          {
            name: t("city.site.occupied", { program: s.program.name }),
            style: i * 2,
            points: s.points.map((p) => [Date.parse(p.start), p.occupied_last]),
          },
          {
            name: t("city.site.capacity", { program: s.program.name }),
            style: i * 2 + 1,
            points: s.points.map((p) => [Date.parse(p.start), p.capacity - p.out_of_service]),
          },
        ]);
        sections.site.querySelector(".ss-chart").innerHTML = SS.charts.lineChart(
          site.selectedOptions[0].textContent,
          series,
        );
      });
    }

    siteForm.elements.to.value = isoDate(Date.now());
    siteForm.elements.from.value = isoDate(Date.now() - (DEFAULT_SITE_DAYS - 1) * DAY_MS);
    siteForm.addEventListener("submit", (event) => {
      event.preventDefault();
      loadSite();
    });

    /* ---- the dial fleet ---- */

    function isWeb(device) {
      return device.id.startsWith(WEB_PREFIX);
    }

    function statusOf(device) {
      if (!isWeb(device)) return STATUSES.includes(device.status) ? device.status : "unknown";
      if (!device.last_seen) return "unknown";
      const age = SS.text.serverNow() - Date.parse(device.last_seen);
      return age < WEB_SAVED_MS ? "online" : "offline";
    }

    function needsALook(device) {
      return (
        statusOf(device) !== "online" ||
        (device.queue || 0) > 0 ||
        (device.rssi != null && device.rssi < WEAK_SIGNAL_DBM)
      );
    }

    function loadFleet() {
      return part(sections.fleet, async () => {
        const body = await api("/devices");
        const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
        for (const d of body.items) counts[statusOf(d)] += 1;
        const chart = sections.fleet.querySelector(".ss-chart");
        chart.innerHTML = SS.charts.stackedBar(
          STATUSES.map((s) => ({
            label: t("device." + s),
            value: counts[s],
            className: "ss-dev-" + s,
          })),
        );
        SS.charts.sizeBars(chart);
        const problems = body.items.filter(needsALook);
        const wrap = sections.fleet.querySelector(".ss-table-wrap");
        if (!problems.length) {
          wrap.innerHTML = `<p>${esc(t("city.fleet.all_ok"))}</p>`;
          return;
        }
        const rows = problems.map(deviceRowHtml).join("");
        const head = ["device", "site", "status", "seen", "firmware", "signal", "queue"]
          .map((c) => `<th scope="col">${esc(t("city.fleet." + c))}</th>`)
          .join("");
        wrap.innerHTML =
          `<h3>${esc(t("city.fleet.problems"))}</h3>` +
          `<table><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`;
      });
    }

    function deviceRowHtml(d) {
      const status = statusOf(d);
      const site = siteNames.get(String(d.site_id)) || "";
      const heard = d.last_seen ? SS.text.timeHtml(d.last_seen) : "";
      const state = isWeb(d)
        ? t(d.last_seen ? "device.web_saved" : "device.web_never")
        : t("device." + status);
      const signal = d.rssi != null ? number(d.rssi) + " dBm" : "";
      return (
        `<tr data-device-id="${esc(d.id)}"><th scope="row">${esc(d.id)}</th>` +
        `<td>${esc(site)}</td><td>${esc(state)}</td><td>${heard}</td>` +
        `<td>${esc(d.firmware || "")}</td><td>${esc(signal)}</td>` +
        `<td>${esc(number(d.queue || 0))}</td></tr>`
      );
    }

    /* ---- turn-aways per night (turnaways.js) ---- */

    function loadTurnAways() {
      return part(sections.turnaways, async () => {
        const body = await api("/turnaways");
        const wrap = sections.turnaways.querySelector(".ss-table-wrap");
        wrap.innerHTML = SS.turnAways.tableHtml(body);
      });
    }

    /* ---- alerts (alerts.js) ---- */

    const loadAlerts = SS.alerts.start({ section: sections.alerts, apiBase, keys, part, failed });

    /* ---- wiring ---- */

    function loadAll() {
      loadNow();
      // the site menu and the fleet's shelter names come with the list of shelters
      loadStale().then(() => Promise.all([loadSite(), loadFleet()]));
      loadSectors();
      loadTurnAways();
      loadAlerts();
    }

    sections.sectors.querySelector("select[name=range]").addEventListener("change", loadSectors);
    // A refused key is said by each part that needed it (failed() above), so the key is kept
    // as typed: the parts that need no key go on working meanwhile.
    SS.apiKey.keyPrompt(keys, sections.key, { onChange: loadAll });
    loadAll();
    setInterval(() => {
      if (document.visibilityState !== "visible") return;
      loadNow();
      loadStale();
      SS.text.refreshAges();
    }, REFRESH_MS);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
