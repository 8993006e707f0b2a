/* Shelter Signal: "Tell me when a bed opens" on the outreach map (docs/map.md, Notify).
 *
 * The worker saves a wish: the sectors ticked in the filters (none: any) and, when they have
 * shared where they are, a distance from there. Whenever the live stream sends a site, each
 * of its programs that matches and went from no free place (or no count) to at least one is
 * announced at once: an alert on the page and, when the browser allows it, a notification.
 *
 * The match runs here, in the browser, over the public event stream: the wish (and where the
 * worker stands) never leaves the phone, and the server does no work per wish. It works while
 * the page is open, which is when a worker waiting with someone looks at it.
 *
 * Stable hooks: button#ss-wish (at the end of the filters), #ss-wish-alert (role=alert).
 */
(function () {
  "use strict";

  const SS = window.ShelterSignal;
  const STORE = "shelter-signal.wish";
  const NEAR_KM = 5; // "near me": a walk or a short bus ride; the wish says it in words

  function loadWish() {
    try {
      return JSON.parse(localStorage.getItem(STORE) || "null");
    } catch {
      return null;
    }
  }

  /* filters(): the page's filters; here(): {lat, lon} or null. Returns check(before, after). */
  function start({ filters, here }) {
    const { t, esc } = SS.text;
    let wish = loadWish();
    const button = document.createElement("button");
    button.type = "button";
    button.id = "ss-wish";
    button.className = "ss-button";
    const banner = document.createElement("p");
    banner.id = "ss-wish-alert";
    banner.className = "ss-status";
    banner.setAttribute("role", "alert");
    // In the filters (the wish is made of them), so the toolbar keeps its size on a phone;
    // the alert under the status line, taking no room while it is empty (map.css)
    document.getElementById("ss-filters").append(button);
    document.getElementById("ss-status").after(banner);

    function describe() {
      button.textContent = wish ? t("wish.cancel") : t("wish.save");
      button.setAttribute("aria-pressed", String(Boolean(wish)));
    }

    button.addEventListener("click", () => {
      if (wish) {
        wish = null;
        localStorage.removeItem(STORE);
        banner.textContent = "";
      } else {
        const f = filters();
        const from = here();
        wish = { sectors: [...f.sectors], near: from, km: from ? NEAR_KM : null };
        localStorage.setItem(STORE, JSON.stringify(wish));
        if (window.Notification && Notification.permission === "default") {
          Notification.requestPermission();
        }
        banner.textContent = t("wish.saved");
      }
      describe();
    });
    describe();

    function free(program) {
      return program && program.is_open !== false && Number(program.available) > 0;
    }

    function matches(site, program) {
      if (wish.sectors.length && !wish.sectors.includes(program.sector)) return false;
      if (!wish.near) return true;
      const km = SS.sites.distanceKm(site, wish.near);
      return km != null && km <= wish.km;
    }

    /* A site as it was and as it is now: announce every wished-for program that opened. */
    function check(before, after) {
      if (!wish || !after) return;
      const was = new Map(((before && before.programs) || []).map((p) => [p.id, p]));
      for (const program of after.programs || []) {
        if (!free(program) || free(was.get(program.id)) || !matches(after, program)) continue;
        const text = t("wish.opened", {
          n: program.available,
          program: program.name,
          site: after.name,
          sector: t("sector." + program.sector),
        });
        banner.innerHTML = `${esc(text)}`;
        if (window.Notification && Notification.permission === "granted") {
          new Notification(t("wish.title"), { body: text, tag: "ss-" + program.id });
        }
      }
    }

    return { check };
  }

  SS.notify = { start };
})();
