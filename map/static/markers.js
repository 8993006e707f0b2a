/* Shelter Signal: the markers on the map, grouped where they would overlap.
 *
 * Grouping is worked out again for the visible area after every move or zoom (see
 * groupsOnScreen): sites whose markers would overlap become one round group marker saying
 * how many free places the group has now; a tap zooms in on them. Only what is on screen
 * (plus a margin) is in the page, so 10,000 sites cost about as much to draw as 100. From
 * SPREAD_ZOOM in, every site gets its own marker.
 *
 * Until the page has the whole list (at 10,000 sites, 11 s on a weak signal), it shows the
 * groups the server made the same way for the view (GET /shelters/groups, showGroups), and
 * asks for a view's own (the `onView` callback) whenever a move leaves what they cover.
 *
 * Stable hooks: a site marker has class "ss-marker" and data-site-id, data-available,
 * data-status (space|few|full|stale|offline|unknown), data-freshness and, when its count is
 * aging, class "ss-aging" and data-age (the short age it wears, "45 min"); a group marker has
 * class "ss-group" and data-sites (how many sites), data-free (free places by current counts,
 * "" when none of its sites has one) and data-unknown (sites without a current count).
 */
(function () {
  "use strict";

  const SS = window.ShelterSignal;
  const { t, number, esc } = SS.text;
  const S = SS.sites;

  // Two markers nearer than this (in screen pixels) would overlap: a site's box is 44 to 75 px
  // wide and 52 px tall with its pointer, a group's circle 46 px.
  const APART_X = 60;
  const APART_Y = 52;
  const SPREAD_ZOOM = 16; // street level: shelters are at least a building apart
  const MARGIN = 0.25; // draw a quarter screen beyond each edge so a short pan finds markers there
  const HEIGHT_PX = 44; // a site marker's box, a fingertip's size; its pointer adds POINTER_PX
  const POINTER_PX = 8;
  const GROUP_PX = 46; // group circles: taller than a site's box, clearly another shape
  // Higher sits on top where markers touch: free beds must not hide under a full site.
  // (Leaflet adds the marker's screen y, up to a few thousand, to these.)
  const Z_OFFSET = { space: 5000, few: 4000, full: 2000, stale: 1000, offline: 0, unknown: 0 };
  const GROUP_Z_OFFSET = 3000;

  // Leaflet creates the marker element (and re-uses it on setIcon); stamp the data attributes
  // and label every time so they survive icon updates.
  const DataIcon = L.DivIcon.extend({
    createIcon(oldIcon) {
      const el = L.DivIcon.prototype.createIcon.call(this, oldIcon);
      for (const [name, value] of Object.entries(this.options.data)) el.dataset[name] = value;
      el.setAttribute("aria-label", this.options.label);
      return el;
    },
  });

  function siteIcon(site) {
    const status = S.statusOf(site);
    const text = S.markerText(site);
    const age = S.markerAge(site);
    const word = !/\d/.test(text); // FULL / COMPLET: smaller letters, see map.css .ss-word
    const width = Math.max(44, 12 + 9 * text.length); // about 9 px per character
    const classes = ["ss-marker", "ss-icon", "ss-" + status];
    if (word) classes.push("ss-word");
    if (age) classes.push("ss-aging"); // wears its age in a tag (map.css), not only a colour
    return new DataIcon({
      className: classes.join(" "),
      html: esc(text),
      iconSize: [width, HEIGHT_PX],
      iconAnchor: [width / 2, HEIGHT_PX + POINTER_PX], // the pointer's tip is the site
      popupAnchor: [0, -(HEIGHT_PX + POINTER_PX)],
      label: S.markerLabel(site),
      data: {
        siteId: String(site.id),
        available: S.hasNumber(site.available) ? String(site.available) : "",
        status,
        freshness: site.freshness || "unknown",
        age,
      },
    });
  }

  /* Free places in a group by current counts only (a stale count is no promise), and how
     many of its sites have none: { free: number, or null when no site has one; unknown }. */
  function groupFree(group) {
    let free = null;
    let unknown = 0;
    for (const { site } of group) {
      if (S.isCurrent(S.statusOf(site))) free = (free ?? 0) + Number(site.available);
      else unknown += 1;
    }
    return { free, unknown };
  }

  /* What a group marker shows and does: { latlng (where it stands), sites (how many), free,
     unknown (as groupFree), latlngs (what a tap zooms to) }. */
  function summarise(group) {
    return {
      latlng: group[0].latlng,
      sites: group.length,
      ...groupFree(group),
      latlngs: group.map((e) => e.latlng),
    };
  }

  function groupIcon(group) {
    const { free, unknown } = group;
    const n = group.sites;
    // Nothing known is "?", never "0": 0 would read as "no beds here". Thousands are
    // rounded ("12K") to fit the circle; the label and data-free keep the exact number.
    const text = free == null ? "?" : SS.text.shortNumber(free);
    let label =
      free == null
        ? t("cluster.label_unknown", { n })
        : t("cluster.label", { n, free: number(free) });
    if (free != null && unknown) label += " " + t("cluster.unknown", { n: unknown });
    return new DataIcon({
      // 4 characters ("1.2K") do not fit the circle at 16 px (map.css .ss-long)
      className: "ss-group ss-icon ss-cluster" + (text.length > 3 ? " ss-long" : ""),
      // The badge with how many sites is drawn by map.css from data-sites: the label says it in
      // words, and the marker's text is only the number the label starts with.
      html: esc(text),
      iconSize: [GROUP_PX, GROUP_PX],
      iconAnchor: [GROUP_PX / 2, GROUP_PX],
      label,
      data: { sites: String(n), free: free == null ? "" : String(free), unknown: String(unknown) },
    });
  }

  /* A layer of site and group markers on `map`. setSites(list) gives it the sites to show
     (already filtered); it redraws after every move and zoom by itself. */
  function markerLayer(map, { onView = () => {} } = {}) {
    const markers = new Map(); // "s<id>" one site, "g<zoom>/<first id>" a group -> L.Marker
    const drawn = new Map(); // same keys -> { shows, site }: skip redrawing what has not changed
    const groups = new Map(); // group key -> its summary, for zooming in on click
    let placed = null; // [{ site, latlng }] of the sites with a location; null before the list
    let early = null; // the server's groups until then: { zoom, box (null: all), answer }
    let asked = ""; // the last view onView was called for
    let opening = null; // the id of the site whose popup openSite is to open once drawn
    let here = null;

    function setSites(sites) {
      placed = [];
      early = null; // the page's own grouping from now on
      for (const site of sites) {
        if (site.lat == null || site.lon == null) continue;
        placed.push({ site, latlng: L.latLng(Number(site.lat), Number(site.lon)) });
      }
      draw();
    }

    /* Greedy grouping on screen: take the sites in a fixed order (as they first arrived, so
       groups stay put while counts change); each site not yet in a group starts one and takes in every
       ungrouped site whose marker would overlap its own (closer than APART_X by APART_Y).
       A grid of APART-sized buckets finds those neighbours without comparing every pair. */
    function groupsOnScreen() {
      const zoom = map.getZoom();
      const view = map.getPixelBounds();
      const margin = view.getSize().multiplyBy(MARGIN);
      const area = L.bounds(view.min.subtract(margin), view.max.add(margin));
      const onScreen = [];
      const buckets = new Map(); // "x/y" -> entries whose point is in that bucket
      for (const entry of placed) {
        const point = map.project(entry.latlng, zoom);
        if (!area.contains(point)) continue;
        const bx = Math.floor(point.x / APART_X);
        const by = Math.floor(point.y / APART_Y);
        const item = { entry, point, bx, by, taken: false };
        onScreen.push(item);
        const bucket = `${bx}/${by}`;
        if (!buckets.has(bucket)) buckets.set(bucket, []);
        buckets.get(bucket).push(item);
      }
      const wanted = new Map();
      for (const item of onScreen) {
        if (item.taken) continue;
        item.taken = true;
        const group = [item.entry];
        if (zoom < SPREAD_ZOOM) {
          for (let dx = -1; dx <= 1; dx++) {
            for (let dy = -1; dy <= 1; dy++) {
              for (const other of buckets.get(`${item.bx + dx}/${item.by + dy}`) || []) {
                if (other.taken) continue;
                if (
                  Math.abs(other.point.x - item.point.x) < APART_X &&
                  Math.abs(other.point.y - item.point.y) < APART_Y
                ) {
                  other.taken = true;
                  group.push(other.entry);
                }
              }
            }
          }
        }
        const id = item.entry.site.id;
        if (group.length === 1) wanted.set("s" + id, group[0]);
        else wanted.set(`g${zoom}/${id}`, summarise(group));
      }
      return wanted;
    }

    /* The server's groups and sites on their own, in the shape groupsOnScreen gives. */
    function groupsFromServer() {
      const wanted = new Map();
      if (!early) return wanted;
      for (const g of early.answer.groups) {
        const [minLon, minLat, maxLon, maxLat] = g.bounds;
        wanted.set(`g${early.zoom}/${g.lat},${g.lon}`, {
          latlng: L.latLng(g.lat, g.lon),
          sites: g.sites,
          free: g.free,
          unknown: g.unknown,
          latlngs: [L.latLng(minLat, minLon), L.latLng(maxLat, maxLon)],
        });
      }
      for (const site of early.answer.items) {
        if (site.lat == null || site.lon == null) continue;
        wanted.set("s" + site.id, { site, latlng: L.latLng(Number(site.lat), Number(site.lon)) });
      }
      return wanted;
    }

    /* The server's groups for `zoom` within `box` (an L.LatLngBounds; null: everywhere),
       shown until setSites: `answer` is what GET /shelters/groups said. The first are shown
       whatever the map's zoom (better than none), later ones only for the zoom it is at. */
    function showGroups(answer, zoom, box) {
      if (placed || (early && zoom !== map.getZoom())) return; // the list came, or a move
      early = { zoom, box, answer };
      moved(); // draws them, and asks for the view's own if they are for another zoom
    }

    /* After a move, before the list: ask for the view's groups when the ones shown are for
       another zoom or do not cover it (with a margin, as groupsOnScreen draws), or `again`:
       their counts have changed. */
    function moved(again = false) {
      if (placed || !early) return draw();
      const zoom = map.getZoom();
      const away = zoom !== early.zoom || (early.box && !early.box.contains(map.getBounds()));
      if (away || again === true) {
        const view = map.getPixelBounds();
        const margin = view.getSize().multiplyBy(MARGIN);
        const box = L.latLngBounds(
          map.unproject(view.min.subtract(margin), zoom),
          map.unproject(view.max.add(margin), zoom),
        );
        const key = `${zoom}/${box.toBBoxString()}`;
        if (key !== asked || again === true) onView(zoom, box);
        asked = key;
      }
      draw();
    }

    /* Before the list: the server's sites shown on their own, as `now(site)` says they are
       now (aged by the page's clock, or newer from the event stream). */
    function renew(now) {
      if (placed || !early) return;
      early = { ...early, answer: { ...early.answer, items: early.answer.items.map(now) } };
      draw();
    }

    function draw() {
      const wanted = placed ? groupsOnScreen() : groupsFromServer();
      const sitesNow = placed || (early ? early.answer.items : []).map((site) => ({ site }));
      for (const [key, marker] of markers) {
        if (wanted.has(key)) continue;
        // An open popup keeps its marker (Leaflet may pan the marker off screen to show a
        // tall popup); it goes when the popup closes and the map next redraws.
        if (marker.isPopupOpen() && sitesNow.some((e) => "s" + e.site.id === key)) continue;
        marker.remove();
        markers.delete(key);
        drawn.delete(key);
        groups.delete(key);
      }
      for (const [key, shown] of wanted) {
        if (key.startsWith("s")) drawSite(key, shown);
        else drawGroup(key, shown);
      }
      openAsked();
    }

    function place(key, latlng, icon, zOffset) {
      let marker = markers.get(key);
      if (!marker) {
        marker = L.marker(latlng, { icon, keyboard: true, riseOnHover: true });
        markers.set(key, marker);
        marker.addTo(map);
      } else {
        if (!marker.getLatLng().equals(latlng)) marker.setLatLng(latlng);
        marker.setIcon(icon); // Leaflet re-uses the same element for a DivIcon
      }
      marker.setZIndexOffset(zOffset);
      return marker;
    }

    function drawSite(key, { site, latlng }) {
      const shows = JSON.stringify(site) + S.markerAge(site); // the age tag changes with time
      if (drawn.get(key)?.shows === shows) return;
      const fresh = !markers.has(key);
      const marker = place(key, latlng, siteIcon(site), Z_OFFSET[S.statusOf(site)]);
      drawn.set(key, { shows, site });
      if (fresh) {
        marker.bindPopup(() => S.detailHtml(drawn.get(key).site), {
          maxWidth: 300,
          className: "ss-popup",
        });
      } else if (marker.isPopupOpen()) {
        marker.getPopup().update();
      }
    }

    function drawGroup(key, group) {
      groups.set(key, group);
      const shows = `${group.sites}/${group.free}/${group.unknown}`; // all a group marker says
      if (drawn.get(key)?.shows === shows) return;
      const fresh = !markers.has(key);
      // At the first site's place, like a site marker (above its point): the grouping keeps
      // first sites APART, so group markers never cover each other.
      const marker = place(key, group.latlng, groupIcon(group), GROUP_Z_OFFSET);
      drawn.set(key, { shows });
      if (fresh) {
        const zoomIn = () => fitPoints(groups.get(key).latlngs, SPREAD_ZOOM);
        marker.on("click", zoomIn);
        marker.on("keypress", (e) => {
          if (e.originalEvent.key === "Enter" || e.originalEvent.key === " ") zoomIn();
        });
      }
    }

    function fitPoints(latlngs, maxZoom, animate = true) {
      if (!latlngs.length) return;
      map.fitBounds(L.latLngBounds(latlngs), { padding: [32, 32], maxZoom, animate });
    }

    /* The first view: every located site of `sites` on screen, not closer than `maxZoom`
       (at once: the markers are drawn for this view, not for one on the way to it). */
    function fit(sites, maxZoom) {
      const located = sites.filter((s) => s.lat != null && s.lon != null);
      fitPoints(
        located.map((s) => L.latLng(Number(s.lat), Number(s.lon))),
        maxZoom,
        false,
      );
    }

    /* Centre on site `id`, close enough that it has its own marker, and open its popup.
       `site` says where it is when the page has only the list's first page. */
    function openSite(id, site = null) {
      // A zoom still animating (Near me frames its shelters with one) would end on its own
      // view after ours: wait for it. (_animatingZoom: Leaflet 1.9 has no public flag.)
      if (map._animatingZoom) {
        map.once("zoomend", () => openSite(id, site));
        return;
      }
      const entry = (placed || []).find((e) => String(e.site.id) === String(id));
      const located = site?.lat != null && site?.lon != null;
      const latlng = entry ? entry.latlng : located && L.latLng(Number(site.lat), Number(site.lon));
      if (!latlng) return;
      map.setView(latlng, Math.max(map.getZoom(), SPREAD_ZOOM), { animate: false });
      // Before the list, its marker comes with the server's sites of that view: opened then
      // (unless the reader moves on first: map.on("movestart") below)
      opening = String(id);
      draw();
    }

    /* The popup openSite asked for, once its marker is drawn. */
    function openAsked() {
      const marker = opening && markers.get("s" + opening);
      if (!marker) return;
      opening = null;
      marker.openPopup();
      marker.getElement().focus();
    }

    /* Mark the reader's location and bring it into view with the nearest `nearest` sites. */
    function showHere(position, nearest) {
      if (here) here.remove();
      here = L.circleMarker(position, {
        radius: 9,
        color: "#fff",
        weight: 3,
        fillColor: "#1d4ed8",
        fillOpacity: 1,
        interactive: false,
      }).addTo(map);
      fitPoints([L.latLng(position), ...nearest.map((s) => L.latLng(s.lat, s.lon))], SPREAD_ZOOM);
    }

    map.on("moveend zoomend", moved);
    map.on("movestart", () => (opening = null));
    // Leaflet closes a popup on Escape only once the map itself has had focus; a keyboard user
    // on a marker or in its popup expects it too, and to land back on the marker.
    map.getContainer().addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      for (const marker of markers.values()) {
        if (!marker.isPopupOpen()) continue;
        marker.closePopup();
        marker.getElement().focus();
      }
    });
    return { setSites, showGroups, renew, refresh: () => moved(true), fit, openSite, showHere };
  }

  SS.markerLayer = markerLayer;
})();
