/* Shelter Signal: words, numbers and times in the reader's language.
 *
 * The server chooses the language (map/i18n.py) and puts its catalogue, merged over English,
 * into the page's config; setup(config) receives it. An entry is a string with {placeholders}
 * or an object of plural forms ({"one": ..., "other": ...}) picked by Intl.PluralRules for
 * vars.n. Everything else (numbers, "4 minutes ago", kilometres) comes from the browser's Intl,
 * which already knows every language, so the catalogue stays small.
 */
(function () {
  "use strict";

  const SS = (window.ShelterSignal = window.ShelterSignal || {});
  const MINUTE_MS = 60000;
  const SHOW_HOURS_FROM_MIN = 120; // "95 minutes ago" reads better than "1 hour ago" below 2 h
  const SHOW_DAYS_FROM_MIN = 48 * 60; // "30 hours ago" up to two days, then days

  // Set by setup(), which each page calls first with its config.
  let lang, strings, plural, numbers, shortNumbers, relative, kilometres;
  let clockSkewMs = 0; // server clock minus this device's clock

  function setup(config) {
    lang = config.lang || "en";
    strings = config.strings || {};
    plural = new Intl.PluralRules(lang);
    numbers = new Intl.NumberFormat(lang);
    // "1.2K", "12K", "120K": at most 4 characters, what a group's circle holds (map.css)
    shortNumbers = new Intl.NumberFormat(lang, { notation: "compact", maximumFractionDigits: 1 });
    // Long style ("4 minutes ago"): screen readers stumble over "4 min. ago".
    relative = new Intl.RelativeTimeFormat(lang, { numeric: "always", style: "long" });
    kilometres = new Intl.NumberFormat(lang, {
      style: "unit",
      unit: "kilometer",
      maximumFractionDigits: 1,
    });
  }

  /* Plain text: escape it (esc) before putting it into HTML. */
  function t(key, vars = {}) {
    let entry = strings[key];
    if (entry == null) return key; // a missing key shows itself: easy to spot, never blank
    if (typeof entry === "object") entry = entry[plural.select(Number(vars.n))] ?? entry.other;
    return entry.replace(/\{(\w+)\}/g, (whole, name) =>
      name in vars ? String(vars[name]) : whole,
    );
  }

  function number(value) {
    return numbers.format(value);
  }

  /* A number in at most 4 characters: exact below 1,000, rounded above ("12K"). */
  function shortNumber(value) {
    return shortNumbers.format(value);
  }

  function km(value) {
    return kilometres.format(value);
  }

  /* Ages are measured on the server's clock: a phone whose clock is off by ten minutes
     must not call a fresh count ten minutes old. */
  function setServerTime(httpDate) {
    const server = Date.parse(httpDate);
    if (!Number.isNaN(server)) clockSkewMs = server - Date.now();
  }

  /* Now on the server's clock, in ms since the epoch. */
  function serverNow() {
    return Date.now() + clockSkewMs;
  }

  function minutesSince(iso) {
    const at = Date.parse(iso);
    if (!iso || Number.isNaN(at)) return null;
    return Math.max(0, Math.floor((Date.now() + clockSkewMs - at) / MINUTE_MS));
  }

  /* "just now", "4 minutes ago", "3 hours ago", "2 days ago" for an age in minutes. */
  function agePhrase(minutes) {
    if (minutes < 1) return t("time.just_now");
    if (minutes < SHOW_HOURS_FROM_MIN) return relative.format(-minutes, "minute");
    if (minutes < SHOW_DAYS_FROM_MIN) return relative.format(-Math.floor(minutes / 60), "hour");
    return relative.format(-Math.floor(minutes / (24 * 60)), "day");
  }

  function ago(iso) {
    const minutes = minutesSince(iso);
    if (minutes == null) return t("time.never");
    return t("time.updated", { ago: agePhrase(minutes) });
  }

  /* <time> elements made by timeHtml() say how long ago; refreshAges() re-words them all,
     wherever they are (list, popup), as time passes. */
  function timeHtml(iso) {
    return `<time class="ss-ago" datetime="${esc(iso || "")}">${esc(ago(iso))}</time>`;
  }

  function refreshAges(root = document) {
    for (const el of root.querySelectorAll("time.ss-ago")) {
      const text = ago(el.getAttribute("datetime"));
      if (el.textContent !== text) el.textContent = text;
    }
  }

  function esc(value) {
    return String(value ?? "").replace(
      /[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
    );
  }

  SS.text = {
    setup,
    t,
    number,
    shortNumber,
    km,
    setServerTime,
    minutesSince,
    serverNow,
    agePhrase,
    ago,
    timeHtml,
    refreshAges,
    esc,
    lang: () => lang,
  };
})();
