/* Shelter Signal: what a site's numbers mean. Status, filters, order, distance and the detail
 * text that both a marker's popup and the list show (one renderer, so they never disagree).
 *
 * A Site is the JSON of GET /api/v1/shelters (see server/api/schemas.py). Newer servers add
 * fields (eligibility, intake_hours); everything here works without them.
 */
(function () {
  "use strict";

  const SS = window.ShelterSignal;
  const { t, number, km, esc, timeHtml } = SS.text;

  const FEW_BELOW = 5; // under 5 free is "few"...
  const FEW_SHARE = 0.2; // ...unless that is still a fifth of the site (a 10-bed site with 3)
  const EARTH_RADIUS_KM = 6371.0088; // as server/queries.py, so both give the same distances
  // Opens the phone's maps app with the route to the site (Android and iOS both handle it);
  // the reader's own location is not part of the link.
  const DIRECTIONS_URL = "https://www.google.com/maps/dir/?api=1&destination=";
  const FRESHNESS_ORDER = ["fresh", "aging", "stale", "unknown"];
  // Where a site is (server/queries.py LOCATION): an outreach key gets a confidential site
  // without these; a city key would get them, but this page shows them for no key at all.
  const LOCATION = ["address", "city", "postal_code", "lat", "lon"];

  // The server's freshness bands (SIGNAL_FRESH_MINUTES, SIGNAL_STALE_MINUTES), set by a page
  // that ages counts itself (setTiming): a page whose link is dead still sees its counts get
  // old. Without it, the server's word at the time of the answer stands.
  let timing = null;

  function setTiming(config) {
    if (config.freshMinutes && config.staleMinutes) {
      timing = { fresh: Number(config.freshMinutes), stale: Number(config.staleMinutes) };
    }
  }

  /* A program's freshness now: its count's age on the server's clock, against the bands. An
     offline dial's or a missing count stays "unknown" (the server knows why). */
  function freshnessNow(program) {
    if (!timing || program.freshness === "unknown") return program.freshness;
    const minutes = SS.text.minutesSince(program.updated_at);
    if (minutes == null) return program.freshness;
    if (minutes < timing.fresh) return "fresh";
    return minutes < timing.stale ? "aging" : "stale";
  }

  /* The site with every program's freshness as it is now, and the site as fresh as its least
     fresh program (as server/queries.py _site). */
  function aged(site) {
    if (!timing || !site.programs) return site;
    const programs = site.programs.map((p) => ({ ...p, freshness: freshnessNow(p) }));
    const freshness = programs.length ? worstFreshness(programs) : site.freshness;
    return { ...site, programs, freshness };
  }

  function worstFreshness(programs) {
    return programs
      .map((p) => p.freshness)
      .reduce((a, b) => (FRESHNESS_ORDER.indexOf(b) > FRESHNESS_ORDER.indexOf(a) ? b : a));
  }


  /* A count to act on: fresh or aging (a stale count or an offline dial's is no promise). */
  function isTrusted(program) {
    return (program.freshness === "fresh" || program.freshness === "aging") &&
      hasNumber(program.available);
  }

  function hasNumber(value) {
    return value != null && Number.isFinite(Number(value));
  }

  /* space | few | full from the numbers; stale (old count), offline (a count, but its dial is
     offline) and unknown (no count yet) when the numbers cannot be trusted. */
  function statusOf(site) {
    if (site.freshness === "stale") return "stale";
    if (site.freshness === "unknown" || !hasNumber(site.available)) {
      const offline = (site.programs || []).some((p) => p.freshness === "unknown" && p.updated_at);
      return offline ? "offline" : "unknown";
    }
    const available = Number(site.available);
    if (available <= 0) return "full";
    const capacity = Number(site.capacity);
    if (available >= FEW_BELOW || (capacity > 0 && available >= FEW_SHARE * capacity)) {
      return "space";
    }
    return "few";
  }

  /* The site as this page may show it: a confidential one never with where it is, so it gets
     no marker, no distance, no directions and no address. */
  function withoutHiddenPlace(site) {
    if (!site.confidential) return site;
    const shown = { ...site };
    for (const field of LOCATION) shown[field] = null;
    return shown;
  }

  function isCurrent(status) {
    return status === "space" || status === "few" || status === "full";
  }

  /* Eligibility filter name -> the site's field (server/models.py SiteBase): true means
     allowed, false not allowed, null not known (and a filter for it does not match). */
  const ELIGIBILITY = {
    pets: "pets_allowed",
    wheelchair: "wheelchair_accessible",
    couples: "couples_allowed",
  };

  function eligibilityOf(site) {
    return Object.keys(ELIGIBILITY).filter((name) => site[ELIGIBILITY[name]] === true);
  }

  /* ---- filters ----
     filters = { sectors: Set, space: bool, accepting: bool, eligibility: Set }.
     Sector, space and accepting apply to programs: a site stays if one of its programs passes
     all three, and then shows only those programs' numbers (someone looking for a women's bed
     wants the women's count, not the site's). Eligibility applies to the whole site. */

  function programPasses(program, filters) {
    if (filters.sectors.size && !filters.sectors.has(program.sector)) return false;
    if (filters.accepting && !program.accepting) return false;
    // Space now: free beds by a count that is fresh or aging. (The API's has_space takes the
    // last count however old; a stale "30 free" from last night is no bed tonight.)
    return !filters.space || (isTrusted(program) && Number(program.available) > 0);
  }

  function view(site, filters) {
    if (filters.eligibility.size) {
      const allows = new Set(eligibilityOf(site));
      for (const need of filters.eligibility) if (!allows.has(need)) return null;
    }
    if (!filters.sectors.size && !filters.space && !filters.accepting) return site;
    const programs = (site.programs || []).filter((p) => programPasses(p, filters));
    if (!programs.length) return null;
    return { ...site, ...totalsOf(programs), programs };
  }

  /* The site totals of some of its programs, added up the way the server adds up all of them
     (server/queries.py _site): only counted programs add to free and occupied, and the site is
     as fresh as its least fresh program. */
  function totalsOf(programs) {
    const counted = programs.filter((p) => hasNumber(p.occupied));
    const times = counted
      .map((p) => p.updated_at)
      .filter(Boolean)
      .sort();
    const sum = (list, field) => list.reduce((total, p) => total + Number(p[field]), 0);
    return {
      capacity: sum(programs, "capacity"),
      occupied: counted.length ? sum(counted, "occupied") : null,
      available: counted.length ? sum(counted, "available") : null,
      updated_at: times.length ? times[times.length - 1] : null,
      freshness: worstFreshness(programs),
    };
  }

  /* ---- order and distance ---- */

  function distanceKm(site, here) {
    if (!here || site.lat == null || site.lon == null) return null;
    const rad = Math.PI / 180;
    const dLat = (site.lat - here.lat) * rad;
    const dLon = (site.lon - here.lon) * rad;
    const a =
      Math.sin(dLat / 2) ** 2 +
      Math.cos(here.lat * rad) * Math.cos(site.lat * rad) * Math.sin(dLon / 2) ** 2;
    return 2 * EARTH_RADIUS_KM * Math.asin(Math.sqrt(a)); // haversine
  }

  // Counts that can be acted on come first, then full sites, then old and missing counts: a
  // stale "30 free" from last night must not top the list.
  const TRUST_RANK = { space: 0, few: 0, full: 1, stale: 2, offline: 3, unknown: 3 };

  function byFree(a, b) {
    return (
      TRUST_RANK[statusOf(a)] - TRUST_RANK[statusOf(b)] ||
      (Number(b.available) || 0) - (Number(a.available) || 0) ||
      String(a.name).localeCompare(String(b.name))
    );
  }

  /* Sorted copy of `sites`: "free" (most free first) or "distance" (nearest first among the
     counts that can be acted on, then full sites, then old and missing counts, each nearest
     first: the nearest offline shelter is no answer; sites without a published location
     last in their rank). */
  function sorted(sites, order, here) {
    if (order !== "distance" || !here) return [...sites].sort(byFree);
    const keyed = sites.map((site) => [TRUST_RANK[statusOf(site)], distanceKm(site, here), site]);
    keyed.sort(
      ([ra, da, a], [rb, db, b]) =>
        ra - rb || (da ?? Infinity) - (db ?? Infinity) || byFree(a, b),
    );
    return keyed.map(([, , site]) => site);
  }

  /* ---- what a marker and a list entry say ---- */

  function statusWords(site) {
    return t("status." + statusOf(site));
  }

  function summaryText(site) {
    if (!hasNumber(site.available)) return statusWords(site);
    return (
      t("detail.summary", {
        n: site.available,
        free: number(site.available),
        capacity: number(site.capacity),
      }) +
      " · " +
      statusWords(site)
    );
  }

  function telHref(phone) {
    // "416-555-0100 x12" -> "tel:4165550100,12" (comma = pause, then dial the extension)
    const [main, ext] = String(phone).split(/\s*(?:x|ext\.?|extension)\s*/i);
    let href = "tel:" + main.replace(/[^0-9+*#]/g, "");
    if (ext) href += "," + ext.replace(/[^0-9]/g, "");
    return href;
  }

  function hhmm(iso) {
    const lang = document.documentElement.lang || undefined;
    return new Date(iso).toLocaleTimeString(lang, { hour: "numeric", minute: "2-digit" });
  }

  function programHtml(p) {
    const n = hasNumber(p.available) ? Number(p.available) : 0;
    const unit = t(p.capacity_type === "rooms" ? "unit.rooms" : "unit.beds", { n });
    const free = hasNumber(p.available) ? number(p.available) : "?";
    const accepting = p.accepting
      ? `<span class="ss-ok">${esc(t("program.accepting"))}</span>`
      : `<span class="ss-no">${esc(t("program.not_accepting"))}</span>`;
    // holds (holds.js): how many are held, and for a signed-in worker a button to hold one
    const held = p.held > 0 ? ` · ${esc(t("program.held", { n: p.held }))}` : "";
    // a surge or warming program says why it is open, and until when (server/alerts.py)
    const until = p.open_until ? hhmm(p.open_until) : "";
    const openFor = p.open_for && t("program.open_for", { alert: p.open_for, until });
    const why = openFor ? `<br><span class="ss-why">${esc(openFor)}</span>` : "";
    const hold =
      p.accepting && n > 0
        ? ` <button type="button" class="ss-button ss-hold" data-program="${esc(p.id)}">` +
          `${esc(t("hold.button"))}</button>`
        : "";
    return (
      `<li><span class="ss-prog">${esc(p.name)}</span> ` +
      `<span class="ss-sector">${esc(t("sector." + p.sector))}</span><br>` +
      `${esc(t("detail.program", { n, free, capacity: number(p.capacity), unit }))}${held} · ` +
      `${accepting}${hold}${why}<br><span class="ss-muted">${timeHtml(p.updated_at)}</span></li>`
    );
  }

  /* "Serves: women, ages 16 to 24", from the fields newer servers send; "" if none is known. */
  function servesText(site) {
    const parts = [];
    if (site.gender_served) parts.push(t("gender." + site.gender_served));
    const min = site.min_age;
    const max = site.max_age;
    if (min != null && max != null) parts.push(t("detail.ages", { min, max }));
    else if (min != null) parts.push(t("detail.ages_from", { min }));
    else if (max != null) parts.push(t("detail.ages_to", { max }));
    return parts.length ? t("detail.serves", { who: parts.join(", ") }) : "";
  }

  /* Everything about a site, for its popup (folded = false) and its list entry (folded: a
     phone screen should hold four or five entries, so the head keeps what decides a call:
     the free places, how old the oldest count is, the phone and the map; each program,
     directions and the intake details sit in a <details>; `programs` keeps the programs in
     the head all the same). */
  function detailHtml(
    site,
    { heading = "h2", distance = null, extra = "", folded = false, programs = !folded } = {},
  ) {
    const status = statusOf(site);
    const head = [
      `<${heading} class="ss-name">${esc(site.name)}</${heading}>`,
      `<p class="ss-summary"><span class="ss-icon ss-${status}" aria-hidden="true">` +
        `${esc(markerText(site))}</span> ${esc(summaryText(site))}</p>`,
    ];
    // One line for how old and how far: a list entry stays short.
    const line = [];
    if (folded && hasNumber(site.available)) line.push(timeHtml(oldestCountAt(site)));
    if (distance != null) {
      const away = esc(t("detail.distance", { distance: km(distance) }));
      line.push(`<span class="ss-distance">${away}</span>`);
    }
    if (line.length) head.push(`<p class="ss-age">${line.join(" · ")}</p>`);
    if (site.confidential) {
      head.push(`<p class="ss-confidential">${esc(t("detail.confidential"))}</p>`);
    }
    const programList =
      `<ul class="ss-programs">` + (site.programs || []).map(programHtml).join("") + `</ul>`;
    if (programs) head.push(programList);
    const call = site.phone
      ? `<a class="ss-action" href="${esc(telHref(site.phone))}">` +
        `${esc(t("detail.call", { phone: site.phone }))}</a>`
      : "";
    const directions =
      site.lat != null && site.lon != null
        ? `<a class="ss-action" href="${esc(DIRECTIONS_URL + site.lat + "," + site.lon)}" ` +
          `target="_blank" rel="noopener">${esc(t("detail.directions"))}</a>`
        : "";
    const actions = folded ? [call] : [call, directions];
    head.push(`<p class="ss-actions">${actions.filter(Boolean).join(" ")}${extra}</p>`);
    const more = [];
    if (site.intake_hours) more.push(t("detail.intake", { hours: site.intake_hours }));
    if (site.intake_instructions) more.push(site.intake_instructions);
    const serves = servesText(site);
    if (serves) more.push(serves);
    const allows = eligibilityOf(site).map((key) => t("eligibility." + key));
    if (allows.length) more.push(t("detail.eligibility", { list: allows.join(", ") }));
    if (site.address) more.push(site.address);
    const moreHtml = more.map((line) => `<p>${esc(line)}</p>`).join("");
    if (!folded) return head.join("") + (moreHtml ? `<div class="ss-info">${moreHtml}</div>` : "");
    const inside =
      (programs ? "" : programList) +
      moreHtml +
      (directions ? `<p class="ss-actions">${directions}</p>` : "");
    return (
      head.join("") +
      `<details class="ss-info"><summary>${esc(t("detail.more"))}</summary>${inside}</details>`
    );
  }

  /* The time of the site's oldest count (the one that makes it as fresh as it is), or null. */
  function oldestCountAt(site) {
    const times = (site.programs || [])
      .filter((p) => hasNumber(p.available) && p.updated_at)
      .map((p) => p.updated_at)
      .sort();
    return times.length ? times[0] : site.updated_at;
  }

  /* The marker's own text: the number, FULL, or the last number with "?" when untrusted. */
  function markerText(site) {
    const status = statusOf(site);
    if (status === "full") return t("marker.full");
    const count = hasNumber(site.available) ? number(site.available) : "";
    return isCurrent(status) ? count : count + "?";
  }

  /* The short age an aging marker wears ("45 min", "2 h"); "" when the count is fresh or
     when its grey style already says it is not to be trusted. */
  function markerAge(site) {
    if (site.freshness !== "aging" || !isCurrent(statusOf(site))) return "";
    const minutes = SS.text.minutesSince(oldestCountAt(site));
    if (minutes == null) return "";
    return minutes < 60
      ? t("marker.age_minutes", { n: minutes })
      : t("marker.age_hours", { n: Math.floor(minutes / 60) });
  }

  function markerLabel(site) {
    const name = site.name || "#" + site.id;
    if (!hasNumber(site.available))
      return t("marker.label_unknown", { name, status: statusWords(site) });
    const label = t("marker.label", {
      n: site.available,
      name,
      free: number(site.available),
      capacity: number(site.capacity),
      status: statusWords(site),
    });
    const age = markerAge(site);
    return age ? label + ", " + t("marker.label_aging", { age }) : label;
  }

  SS.sites = {
    ELIGIBILITY,
    setTiming,
    aged,
    isTrusted,
    markerAge,
    withoutHiddenPlace,
    statusOf,
    isCurrent,
    view,
    distanceKm,
    sorted,
    detailHtml,
    markerText,
    markerLabel,
    hasNumber,
    telHref,
  };
})();
