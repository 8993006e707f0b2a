/* Shelter Signal: "Find a bed": who needs a bed tonight, then the places that can take them
 * now, nearest first, each with its phone number to call.
 *
 * A place can take them when one of its programs:
 *   - serves them, by the site's and program's own attributes (WHO below: a mixed adult
 *     program takes a woman unless its site serves men only; a youth program needs the age
 *     inside the site's limits; a couple needs a site that says it takes couples);
 *   - meets what else they need (a pet, wheelchair access: the site must say yes; unknown
 *     does not match);
 *   - is accepting, with intake open now by its intake_schedule in the city's time zone
 *     (unknown hours do not match: nobody should walk an hour to a closed door);
 *   - has a free place by a count that is fresh or aging.
 * The needs are remembered on the device (never the location): on the next visit the answer
 * is there at once, and a phone number is one tap away. A signed-in outreach worker can hold
 * the place from here too (holds.js: the same button and hold as in the list and popups).
 *
 * Stable hooks: #ss-find, button[data-who] and button[data-need] (aria-pressed),
 * #ss-find-age, #ss-find-results li[data-site-id][data-program-id].
 */
(function () {
  "use strict";

  const SS = window.ShelterSignal;
  const { t, number, km, esc, timeHtml } = SS.text;
  const S = SS.sites;

  const STORE = "shelter-signal.find"; // who and what else: no place, no person
  const SHOWN = 10; // places listed: more is the list's job
  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]; // as server/intake.py
  const DAY_MINUTES = 24 * 60;
  const ADULT_AGE = 18; // where no age is asked (man, woman...), an adult
  const YOUTH_AGE = 18; // the age the youth button starts at
  // who -> the program sectors that may take them, and the site genders (gender_served)
  // that do; null gender_served means the site did not say: the sector decides.
  const WHO = {
    man: { sectors: ["men", "mixed"], genders: ["men", "any", null] },
    woman: { sectors: ["women", "mixed"], genders: ["women", "any", null] },
    nonbinary: { sectors: ["mixed"], genders: ["any", null] },
    youth: { sectors: ["youth"], genders: ["men", "women", "any", null] },
    family: { sectors: ["families"], genders: ["men", "women", "any", null] },
    couple: { sectors: ["mixed", "families"], genders: ["any", null], couples: true },
  };
  const NEEDS = { pets: "pets_allowed", wheelchair: "wheelchair_accessible" };

  /* The city's wall clock now (on the server's clock): { day: 0 = Monday, minute of day }. */
  function cityNow(zone) {
    const parts = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    }).formatToParts(new Date(SS.text.serverNow()));
    const part = (type) => parts.find((p) => p.type === type).value;
    const day = DAYS.indexOf(part("weekday").slice(0, 3).toLowerCase());
    return { day, minute: Number(part("hour")) * 60 + Number(part("minute")) };
  }

  /* Intake open at `now`? null when the hours are not known. As server/intake.py is_open. */
  function intakeOpen(spans, now) {
    if (!Array.isArray(spans)) return null;
    const week = 7 * DAY_MINUTES;
    const at = now.day * DAY_MINUTES + now.minute;
    return spans.some((span) => {
      const [day, times] = span.split(" ");
      const [start, end] = times.split("-").map((hhmm) => {
        const [h, m] = hhmm.split(":").map(Number);
        return h * 60 + m;
      });
      const begins = DAYS.indexOf(day) * DAY_MINUTES + start;
      // overnight when the end is not after the start: it runs on into the next day
      const length = end > start ? end - start : DAY_MINUTES - start + end;
      return (((at - begins) % week) + week) % week < length;
    });
  }

  function serves(site, program, needs) {
    const who = WHO[needs.who];
    if (!who.sectors.includes(program.sector)) return false;
    if (!who.genders.includes(site.gender_served ?? null)) return false;
    if (who.couples && site.couples_allowed !== true) return false;
    const age = needs.who === "youth" ? needs.age : ADULT_AGE;
    if (needs.who !== "family" && (site.min_age ?? 0) > age) return false;
    if (needs.who !== "family" && site.max_age != null && site.max_age < age) return false;
    return needs.also.every((need) => site[NEEDS[need]] === true);
  }

  /* The program of `site` that can take them now with the most free places, or null. */
  function bestProgram(site, needs, now) {
    let best = null;
    for (const p of site.programs || []) {
      if (!p.accepting || !S.isTrusted(p) || !(Number(p.available) > 0)) continue;
      if (intakeOpen(p.intake_schedule, now) !== true || !serves(site, p, needs)) continue;
      if (!best || Number(p.available) > Number(best.available)) best = p;
    }
    return best;
  }

  function remembered() {
    try {
      return JSON.parse(localStorage.getItem(STORE)) || {};
    } catch {
      return {}; // storage blocked: start afresh
    }
  }

  /* The finder in `root` (#ss-find). zone: the city's time zone (SIGNAL_TIMEZONE); onNeed():
     called when someone is picked, as the finder reads every site (live.js loads them all
     then, where it had only the list's first page). */
  function finder(root, { zone, onNeed }) {
    const saved = remembered();
    const needs = {
      who: saved.who in WHO ? saved.who : null,
      age: Number.isInteger(saved.age) ? saved.age : YOUTH_AGE,
      also: (saved.also || []).filter((n) => n in NEEDS),
    };
    const results = root.querySelector("#ss-find-results");
    const count = root.querySelector("#ss-find-count");
    const ageField = root.querySelector("#ss-find-age");
    const ageLabel = root.querySelector("#ss-find-age-label");
    let latest = { sites: [], here: null };

    function save() {
      try {
        localStorage.setItem(STORE, JSON.stringify(needs));
      } catch {
        // storage blocked: the needs last for this visit only
      }
    }

    function showChoices() {
      for (const button of root.querySelectorAll("[data-who]")) {
        button.setAttribute("aria-pressed", String(button.dataset.who === needs.who));
      }
      for (const button of root.querySelectorAll("[data-need]")) {
        button.setAttribute("aria-pressed", String(needs.also.includes(button.dataset.need)));
      }
      ageLabel.hidden = needs.who !== "youth";
      ageField.value = needs.age;
    }

    function resultHtml({ site, program, distance }) {
      const free = t("find.free", { n: program.available, free: number(program.available) });
      const where = distance == null ? "" : ` · ${esc(t("detail.distance", { distance: km(distance) }))}`;
      const call = site.phone
        ? `<a class="ss-action" href="${esc(S.telHref(site.phone))}">` +
          `${esc(t("detail.call", { phone: site.phone }))}</a>`
        : "";
      return (
        `<li data-site-id="${esc(site.id)}" data-program-id="${esc(program.id)}">` +
        `<h3 class="ss-name">${esc(site.name)}</h3>` +
        `<p class="ss-summary"><span class="ss-icon ss-space" aria-hidden="true">` +
        `${esc(number(program.available))}</span> ${esc(free)} · ` +
        `${esc(t("sector." + program.sector))}</p>` +
        `<p class="ss-age">${timeHtml(program.updated_at)}${where}</p>${call}` +
        `${SS.holds.buttonHtml(program)}</li>`
      );
    }

    function draw() {
      if (!needs.who) {
        results.innerHTML = "";
        count.textContent = t("find.pick");
        return;
      }
      if (!latest.sites) {
        results.innerHTML = "";
        count.textContent = t("find.loading");
        return;
      }
      const now = cityNow(zone);
      const found = [];
      for (const site of latest.sites) {
        const program = bestProgram(site, needs, now);
        if (program) found.push({ site, program, distance: S.distanceKm(site, latest.here) });
      }
      // nearest first (places without a published location last), then most free
      found.sort(
        (a, b) =>
          (a.distance ?? Infinity) - (b.distance ?? Infinity) ||
          Number(b.program.available) - Number(a.program.available),
      );
      results.innerHTML = found.slice(0, SHOWN).map(resultHtml).join("");
      count.textContent = found.length
        ? t("find.count", { n: found.length, count: number(found.length) })
        : t("find.none");
    }

    root.addEventListener("click", (event) => {
      const who = event.target.closest("[data-who]");
      const need = event.target.closest("[data-need]");
      if (who) needs.who = who.dataset.who;
      else if (need) {
        const name = need.dataset.need;
        needs.also = needs.also.includes(name)
          ? needs.also.filter((n) => n !== name)
          : [...needs.also, name];
      } else return;
      save();
      showChoices();
      draw();
      if (needs.who) onNeed();
    });
    ageField.addEventListener("change", () => {
      const age = Number.parseInt(ageField.value, 10);
      if (!Number.isInteger(age)) return;
      needs.age = age;
      save();
      draw();
    });

    showChoices();
    return {
      /* Someone is picked: the finder needs every site. */
      wanted: () => Boolean(needs.who),
      /* The sites as the page has them now (aged), or null while it has only some of them;
         and the reader's location if shared. */
      update(sites, here) {
        latest = { sites, here };
        draw();
      },
    };
  }

  SS.finder = finder;
})();
