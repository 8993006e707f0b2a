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
 * A worker signed in with an outreach key, on a server that sends texts, can also have the
 * server text a phone (theirs, or that of the person beside them who has no data plan) once
 * when such a bed opens: the same wish, sent to POST /sms/wishes (docs/api.md, Text
 * messages). The number goes to the server with that request and is never kept on the phone;
 * this tab keeps only each text wish's id and end, to list and cancel them.
 *
 * Stable hooks: button#ss-wish (at the end of the filters), #ss-wish-alert (role=alert),
 * form#ss-wish-text (under the worker's holds) with input#ss-wish-phone, li[data-wish] with
 * button.ss-cancel.
 */
(function () {
  "use strict";

  const SS = window.ShelterSignal;
  const STORE = "shelter-signal.wish";
  const NEAR_KM = 5; // "near me": a walk or a short bus ride; the wish says it in words
  const TEXTS_STORE = "shelter-signal.text-wishes"; // this tab's text wishes: ids, never numbers
  const E164 = /^\+[1-9][0-9]{6,14}$/; // as the API takes numbers (server/api/schemas.py PHONE)

  function loadWish() {
    try {
      return JSON.parse(localStorage.getItem(STORE) || "null");
    } catch {
      return null;
    }
  }

  /* The text wishes this tab made and that have not ended: [{id, until}], until in ms. */
  function loadTexts() {
    try {
      const texts = JSON.parse(sessionStorage.getItem(TEXTS_STORE) || "[]");
      return texts.filter((wish) => wish.until > Date.now());
    } catch {
      return []; // storage blocked or unreadable: this visit's wishes only
    }
  }

  function saveTexts(texts) {
    try {
      sessionStorage.setItem(TEXTS_STORE, JSON.stringify(texts));
    } catch {
      // storage blocked: the list lasts as long as the page
    }
  }

  /* "Text a phone when a bed opens", under the worker's holds; map.css shows it only to a
     signed-in worker. body() is the wish as the API takes it, without the number. */
  function textForm({ apiBase, keys, lang, body }) {
    const { t, esc } = SS.text;
    const clock = new Intl.DateTimeFormat(lang, { hour: "numeric", minute: "2-digit" });
    let texts = loadTexts();
    const form = document.createElement("form");
    form.id = "ss-wish-text";
    form.className = "ss-wish-text";
    form.innerHTML =
      `<label for="ss-wish-phone">${esc(t("wish.text.label"))}</label> ` +
      `<input id="ss-wish-phone" type="tel" inputmode="tel" autocomplete="off" required ` +
      `placeholder="+1 416 555 0199"> ` +
      `<button type="submit" class="ss-button">${esc(t("wish.text.send"))}</button>` +
      `<p class="ss-note" role="status"></p>` +
      `<ul class="ss-wish-texts" aria-label="${esc(t("wish.text.list"))}"></ul>`;
    // after the sign-in's state; holds.js puts the worker's holds between the two
    document.getElementById("ss-key-in-use").after(form);
    const [input, note, list] = ["input", ".ss-note", "ul"].map((s) => form.querySelector(s));

    function show() {
      saveTexts(texts);
      list.innerHTML = texts
        .map(
          (wish) =>
            `<li data-wish="${esc(wish.id)}">` +
            `${esc(t("wish.text.item", { until: clock.format(new Date(wish.until)) }))} ` +
            `<button type="button" class="ss-button ss-cancel">${esc(t("wish.text.cancel"))}` +
            `</button></li>`
        )
        .join("");
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const phone = input.value.replace(/[\s().-]/g, ""); // as people write numbers
      if (!E164.test(phone)) {
        note.textContent = t("wish.text.format");
        input.focus();
        return;
      }
      const language = lang === "fr" ? "fr" : "en"; // the languages texts are written in
      try {
        const url = apiBase + "/sms/wishes";
        const made = await SS.apiKey.send("POST", url, keys.get(), { phone, language, ...body() });
        input.value = ""; // the number leaves the page with the request
        const until = Date.parse(made.expires_at);
        texts = [...texts.filter((wish) => wish.id !== made.id), { id: made.id, until }];
        note.textContent = t("wish.text.made", { until: clock.format(new Date(until)) });
        show();
      } catch (error) {
        note.textContent = t("wish.text.refused", { message: error.message });
      }
    });

    list.addEventListener("click", async (event) => {
      const item = event.target.closest("button.ss-cancel") && event.target.closest("li");
      if (!item) return;
      try {
        await SS.apiKey.send("DELETE", `${apiBase}/sms/wishes/${item.dataset.wish}`, keys.get());
        note.textContent = t("wish.text.cancelled");
      } catch (error) {
        // 404: it was texted already or ended; either way it waits no more
        if (error.status !== 404) {
          note.textContent = t("wish.text.refused", { message: error.message });
          return;
        }
        note.textContent = t("wish.text.ended");
      }
      texts = texts.filter((wish) => wish.id !== item.dataset.wish);
      show();
    });
    show();
  }

  /* filters(): the page's filters; here(): {lat, lon} or null. With `texts` (the server sends
     texts: {apiBase, keys, lang}), the text form too. Returns check(before, after). */
  function start({ filters, here, texts }) {
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

    if (texts) {
      textForm({
        ...texts,
        body() {
          const f = filters();
          const from = here();
          const wish = { sectors: [...f.sectors] };
          for (const need of f.eligibility) wish[SS.sites.ELIGIBILITY[need]] = true;
          if (from) Object.assign(wish, { lat: from.lat, lon: from.lon, radius_km: NEAR_KM });
          return wish;
        },
      });
    }

    return { check };
  }

  SS.notify = { start };
})();
