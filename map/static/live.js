/* Shelter Signal live map.
 *
 * The page (map/page.py) creates the Leaflet map with Folium and then calls
 *   ShelterSignal.start(leafletMap, { apiBase: "/api/v1" })
 * This script draws one marker per site from GET {apiBase}/shelters and keeps each marker
 * current from the SSE stream {apiBase}/events ("site" events carry the full site JSON).
 *
 * Stable test hooks: every marker element has class "ss-marker" and data-site-id,
 * data-available, data-status (space|few|full|stale|unknown); the connection banner is
 * #ss-connection with data-state="live"|"offline".
 */
(function () {
  "use strict";

  const REFRESH_MS = 120000; // safety-net refetch (freshness changes, missed events)
  const TICK_MS = 30000; // re-render "updated N min ago" in an open popup
  const RETRY_MAX_MS = 30000; // back-off cap when the EventSource gives up (HTTP error)

  // Higher sits on top where markers overlap: free beds should never hide under a full site.
  const Z_OFFSET = { space: 400, few: 300, full: 200, stale: 100, unknown: 0 };
  const STATUS_WORDS = {
    space: "beds available",
    few: "only a few beds left",
    full: "full",
    stale: "count may be out of date",
    unknown: "no recent data, desk may be offline",
  };

  function statusOf(site) {
    if (site.freshness === "stale" || site.freshness === "unknown") return site.freshness;
    const available = Number(site.available);
    if (site.available == null || !Number.isFinite(available)) return "unknown";
    if (available <= 0) return "full";
    const capacity = Number(site.capacity);
    if (available >= 5 || (capacity > 0 && available >= 0.2 * capacity)) return "space";
    return "few";
  }

  function hasNumber(value) {
    return value != null && Number.isFinite(Number(value));
  }

  function markerText(site, status) {
    if (status === "full") return "FULL";
    if (status === "stale" || status === "unknown") {
      return (hasNumber(site.available) ? String(site.available) : "") + "?";
    }
    return String(site.available);
  }

  function escapeHtml(value) {
    return String(value ?? "").replace(
      /[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
    );
  }

  // "416-555-0100 x12" -> "tel:4165550100,12" (comma = pause, then dial the extension).
  function telHref(phone) {
    const [main, ext] = String(phone).split(/\s*(?:x|ext\.?|extension)\s*/i);
    let href = "tel:" + main.replace(/[^0-9+*#]/g, "");
    if (ext) href += "," + ext.replace(/[^0-9]/g, "");
    return href;
  }

  // The marker element is created (and on setIcon re-used) by Leaflet; stamp the data
  // attributes every time so they survive icon updates and re-adds.
  const SiteIcon = L.DivIcon.extend({
    createIcon(oldIcon) {
      const el = L.DivIcon.prototype.createIcon.call(this, oldIcon);
      const o = this.options;
      el.dataset.siteId = o.siteId;
      el.dataset.available = o.available;
      el.dataset.status = o.status;
      el.setAttribute("aria-label", o.label);
      return el;
    },
  });

  function iconFor(site) {
    const status = statusOf(site);
    const name = site.name || "Site " + site.id;
    const count = hasNumber(site.available) ? site.available : "unknown";
    return {
      status,
      icon: new SiteIcon({
        className: "ss-marker ss-icon ss-" + status,
        html: '<span class="ss-n">' + escapeHtml(markerText(site, status)) + "</span>",
        iconSize: [48, 30],
        iconAnchor: [24, 38], // tip of the CSS pointer, 8px below the box
        popupAnchor: [0, -38],
        siteId: String(site.id),
        available: hasNumber(site.available) ? String(site.available) : "",
        status,
        label: `${name}: ${count} free of ${site.capacity ?? "?"}, ${STATUS_WORDS[status]}`,
      }),
    };
  }

  function start(map, config) {
    const apiBase = String((config && config.apiBase) || "/api/v1").replace(/\/+$/, "");
    const banner = document.getElementById("ss-connection");
    const sites = new Map(); // id -> latest Site JSON
    const markers = new Map(); // id -> L.Marker
    let clockSkewMs = 0; // server clock minus ours, from the list's top-level updated_at
    let source = null;
    let retryMs = 1000;

    function minutesAgo(iso) {
      const t = Date.parse(iso);
      if (Number.isNaN(t)) return null;
      return Math.max(0, Math.floor((Date.now() + clockSkewMs - t) / 60000));
    }

    function updatedText(iso) {
      if (!iso) return "never updated";
      const min = minutesAgo(iso);
      if (min == null) return "update time unknown";
      if (min < 120) return `updated ${min} min ago`;
      const hours = Math.floor(min / 60);
      if (hours < 48) return `updated ${hours} h ago`;
      return `updated ${Math.floor(hours / 24)} days ago`;
    }

    function popupHtml(site) {
      const status = statusOf(site);
      const programs = (site.programs || [])
        .map((p) => {
          const unit = p.capacity_type === "rooms" ? "rooms" : "beds";
          const accepting = p.accepting
            ? '<span class="ss-ok">accepting</span>'
            : '<span class="ss-no">not accepting</span>';
          return (
            `<li><span class="ss-prog">${escapeHtml(p.name)}</span>` +
            ` <span class="ss-sector">${escapeHtml(p.sector)}</span><br>` +
            `<strong>${escapeHtml(p.available ?? "?")}</strong>/${escapeHtml(p.capacity ?? "?")}` +
            ` ${unit} free · ${accepting}</li>`
          );
        })
        .join("");
      const phone = site.phone
        ? `<a class="ss-phone" href="${escapeHtml(telHref(site.phone))}">` +
          `Call ${escapeHtml(site.phone)}</a>`
        : "";
      return (
        `<div class="ss-popup" data-site-id="${escapeHtml(site.id)}">` +
        `<h2>${escapeHtml(site.name)}</h2>` +
        (site.address ? `<div class="ss-addr">${escapeHtml(site.address)}</div>` : "") +
        `<p class="ss-summary ss-${status}-text"><strong>${escapeHtml(site.available ?? "?")}` +
        `</strong> of ${escapeHtml(site.capacity ?? "?")} free: ${STATUS_WORDS[status]}</p>` +
        (programs ? `<ul class="ss-programs">${programs}</ul>` : "") +
        `<p class="ss-updated"><time datetime="${escapeHtml(site.updated_at || "")}">` +
        `${updatedText(site.updated_at)}</time></p>` +
        phone +
        "</div>"
      );
    }

    function isOlder(incoming, current) {
      // Guards against a slow /shelters response overwriting a newer SSE update.
      const a = Date.parse(incoming.updated_at);
      const b = Date.parse(current.updated_at);
      return !Number.isNaN(a) && !Number.isNaN(b) && a < b;
    }

    function removeSite(id) {
      const marker = markers.get(id);
      if (marker) marker.remove();
      markers.delete(id);
      sites.delete(id);
    }

    function applySite(site) {
      if (!site || site.id == null) return;
      const id = String(site.id);
      const current = sites.get(id);
      if (current && isOlder(site, current)) return;
      sites.set(id, site);
      let marker = markers.get(id);
      if (site.lat == null || site.lon == null) {
        if (marker) marker.remove();
        markers.delete(id);
        return;
      }
      const { icon, status } = iconFor(site);
      const latlng = [Number(site.lat), Number(site.lon)];
      if (!marker) {
        marker = L.marker(latlng, { icon, keyboard: true, riseOnHover: true });
        marker.bindPopup(() => popupHtml(sites.get(id)), { maxWidth: 280 });
        marker.addTo(map);
        markers.set(id, marker);
      } else {
        marker.setLatLng(latlng);
        marker.setIcon(icon); // Leaflet re-uses the same DOM element for a DivIcon
        if (marker.isPopupOpen()) marker.getPopup().update();
      }
      marker.setZIndexOffset(Z_OFFSET[status]);
    }

    async function loadAll() {
      try {
        const res = await fetch(apiBase + "/shelters", {
          headers: { Accept: "application/json" },
          cache: "no-store",
        });
        if (!res.ok) throw new Error("HTTP " + res.status);
        const body = await res.json();
        const serverNow = Date.parse(body.updated_at);
        if (!Number.isNaN(serverNow)) clockSkewMs = serverNow - Date.now();
        const seen = new Set();
        for (const site of body.items || []) {
          seen.add(String(site.id));
          applySite(site);
        }
        for (const id of [...sites.keys()]) if (!seen.has(id)) removeSite(id);
      } catch (err) {
        console.warn("Shelter Signal: could not load shelters", err);
      }
    }

    function setConnection(state) {
      if (!banner) return;
      banner.dataset.state = state;
      banner.textContent = state === "live" ? "Live" : "Reconnecting…";
    }

    function connect() {
      source = new EventSource(apiBase + "/events");
      source.addEventListener("open", () => {
        retryMs = 1000;
        setConnection("live");
        loadAll(); // catch up on anything missed while (re)connecting
      });
      source.addEventListener("site", (ev) => {
        try {
          applySite(JSON.parse(ev.data));
        } catch (err) {
          console.warn("Shelter Signal: bad site event", err);
        }
      });
      source.addEventListener("error", () => {
        setConnection("offline");
        // CONNECTING: the browser retries by itself. CLOSED (HTTP error, wrong content
        // type): it gives up, so we retry with back-off.
        if (source.readyState === EventSource.CLOSED) {
          source.close();
          setTimeout(connect, retryMs);
          retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
        }
      });
    }

    loadAll();
    connect();
    setInterval(() => {
      if (document.visibilityState === "visible") loadAll();
    }, REFRESH_MS);
    setInterval(() => {
      for (const marker of markers.values()) {
        if (marker.isPopupOpen()) marker.getPopup().update();
      }
    }, TICK_MS);
    // Phones suspend background tabs; refresh as soon as the map is looked at again.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") loadAll();
    });

    return { map, sites, markers, reload: loadAll };
  }

  window.ShelterSignal = { start, statusOf };
})();
