/* Shelter Signal: small charts drawn as inline SVG (no library, nothing fetched elsewhere).
 *
 * lineChart(): lines over time, each with its own colour AND dash pattern (colour is never
 * the only signal), a legend that repeats both, and the same numbers as a table in a
 * <details> for screen readers and for anyone who wants exact values.
 * stackedBar(): one horizontal bar split into labelled parts (the dial fleet by status).
 */
(function () {
  "use strict";

  const SS = window.ShelterSignal;
  const { t, number, esc, lang } = SS.text;

  // Line styles: colours >= 4.5:1 on white (WCAG 1.4.11 needs 3:1 for graphics), and dashes
  // that tell the lines apart without colour.
  const STYLES = [
    { colour: "#1d4ed8", dash: "" },
    { colour: "#b91c1c", dash: "8 4" },
    { colour: "#047857", dash: "2 4" },
    { colour: "#7e22ce", dash: "12 4 2 4" },
    { colour: "#b45309", dash: "16 6" },
    { colour: "#0f766e", dash: "4 4" },
    { colour: "#be185d", dash: "10 3 3 3 3 3" },
    { colour: "#374151", dash: "1 3" },
  ];
  const WIDTH = 640; // the SVG's own units; it scales to the page's width
  const HEIGHT = 260;
  const PAD = { left: 48, right: 16, top: 12, bottom: 40 };
  const Y_TICKS = 4; // horizontal grid lines above zero
  const X_TICKS = 5; // time labels along the bottom
  const HOUR_MS = 3600 * 1000;
  const TWO_DAYS_MS = 48 * HOUR_MS; // shorter ranges label hours, longer ones days
  const POINT_R = 4; // a dot at every point: a single point is a dot, not nothing
  // Time labels from coarse to fine: the first whose X_TICKS labels all differ is used, so
  // an axis never repeats one label ("Wed 10 AM" five times over two hours).
  const DAYS = [{ month: "short", day: "numeric" }];
  const HOURS = [
    { weekday: "short", hour: "numeric" },
    { weekday: "short", hour: "numeric", minute: "2-digit" },
    { hour: "numeric", minute: "2-digit", second: "2-digit" },
  ];

  function styleOf(index) {
    return STYLES[index % STYLES.length];
  }

  /* A round top for the y axis: 1, 2 or 5 times a power of ten, at least `max`. */
  function niceTop(max) {
    if (max <= 0) return Y_TICKS;
    const step = max / Y_TICKS;
    const power = 10 ** Math.floor(Math.log10(step));
    const nice = [1, 2, 5, 10].find((m) => m * power >= step) * power;
    return Math.max(nice, 1) * Y_TICKS;
  }

  function timeFormat(ticks, spanMs) {
    const choices = spanMs <= TWO_DAYS_MS ? HOURS : [...DAYS, ...HOURS];
    const formats = choices.map((options) => new Intl.DateTimeFormat(lang(), options));
    const distinct = (f) => new Set(ticks.map((time) => f.format(time))).size === ticks.length;
    return formats.find(distinct) || formats[formats.length - 1];
  }

  /* series: [{ name, points: [[timeMs, value], ...], style: index into STYLES }]. */
  function lineChart(title, series) {
    const times = series.flatMap((s) => s.points.map(([x]) => x));
    if (!times.length) return `<p>${esc(t("city.chart.empty"))}</p>`;
    // One moment only: an hour either side, so the point sits in the middle of the axis.
    const first = Math.min(...times);
    const last = Math.max(...times);
    const x0 = last > first ? first : first - HOUR_MS;
    const x1 = last > first ? last : last + HOUR_MS;
    const top = niceTop(Math.max(...series.flatMap((s) => s.points.map(([, y]) => y))));
    const plotW = WIDTH - PAD.left - PAD.right;
    const plotH = HEIGHT - PAD.top - PAD.bottom;
    const sx = (x) => PAD.left + ((x - x0) / (x1 - x0)) * plotW;
    const sy = (y) => PAD.top + plotH - (y / top) * plotH;
    const ticks = Array.from({ length: X_TICKS }, (_, i) => x0 + ((x1 - x0) * i) / (X_TICKS - 1));
    const format = timeFormat(ticks, x1 - x0);
    const parts = [];
    for (let i = 0; i <= Y_TICKS; i++) {
      const value = (top / Y_TICKS) * i;
      const y = sy(value).toFixed(1);
      parts.push(
        `<line class="ss-grid" x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y}" y2="${y}"/>`,
        `<text x="${PAD.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">` +
          `${esc(number(value))}</text>`,
      );
    }
    for (const [i, time] of ticks.entries()) {
      const anchor = i === 0 ? "start" : i === X_TICKS - 1 ? "end" : "middle";
      parts.push(
        `<text x="${sx(time).toFixed(1)}" y="${HEIGHT - PAD.bottom + 18}" ` +
          `text-anchor="${anchor}">${esc(format.format(time))}</text>`,
      );
    }
    for (const s of series) {
      const { colour, dash } = styleOf(s.style);
      const d = s.points
        .map(([x, y], i) => `${i ? "L" : "M"}${sx(x).toFixed(1)} ${sy(y).toFixed(1)}`)
        .join(" ");
      parts.push(`<path class="ss-line" d="${d}" stroke="${colour}" stroke-dasharray="${dash}"/>`);
      for (const [x, y] of s.points) {
        parts.push(
          `<circle class="ss-point" cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" ` +
            `r="${POINT_R}" fill="${colour}"/>`,
        );
      }
    }
    const svg =
      `<svg class="ss-svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" ` +
      `aria-label="${esc(title)}">${parts.join("")}</svg>`;
    // the table names each row in full: hourly rows of a week must not all read "Dec 2"
    const full = new Intl.DateTimeFormat(lang(), { dateStyle: "medium", timeStyle: "short" });
    return svg + legend(series) + table(series, full);
  }

  function swatch(style) {
    const { colour, dash } = styleOf(style);
    return (
      `<svg width="32" height="10" aria-hidden="true"><line x1="0" x2="32" y1="5" y2="5" ` +
      `stroke="${colour}" stroke-width="3" stroke-dasharray="${dash}"/></svg>`
    );
  }

  function legend(series) {
    const items = series.map((s) => `<li>${swatch(s.style)} ${esc(s.name)}</li>`).join("");
    return `<ul class="ss-chart-legend" aria-hidden="true">${items}</ul>`;
  }

  function table(series, format) {
    const times = [...new Set(series.flatMap((s) => s.points.map(([x]) => x)))].sort(
      (a, b) => a - b,
    );
    const byTime = series.map((s) => new Map(s.points));
    const head = series.map((s) => `<th scope="col">${esc(s.name)}</th>`).join("");
    const rows = times
      .map((time) => {
        const cells = byTime
          .map((values) => `<td>${values.has(time) ? esc(number(values.get(time))) : ""}</td>`)
          .join("");
        return `<tr><th scope="row">${esc(format.format(time))}</th>${cells}</tr>`;
      })
      .join("");
    return (
      `<details class="ss-data"><summary>${esc(t("city.chart.table"))}</summary>` +
      `<div class="ss-table-wrap" tabindex="0"><table><thead><tr>` +
      `<th scope="col">${esc(t("city.chart.time"))}</th>${head}</tr></thead>` +
      `<tbody>${rows}</tbody></table></div></details>`
    );
  }

  /* parts: [{ label, value, className }]; each part's width is its share of the total, and
     each says its label and number in words beside the bar. The shares travel as data-share:
     the page's Content-Security-Policy refuses style attributes in markup, so sizeBars()
     sets them once the bar is in the page. */
  function stackedBar(parts) {
    const total = parts.reduce((sum, p) => sum + p.value, 0) || 1;
    const bar = parts
      .filter((p) => p.value > 0)
      .map(
        (p) =>
          `<span class="ss-part ${esc(p.className)}" data-share="${p.value / total}">` +
          `${esc(number(p.value))}</span>`,
      )
      .join("");
    const keys = parts
      .map(
        (p) =>
          `<li><span class="ss-key ${esc(p.className)}"></span>${esc(p.label)}: ` +
          `<strong>${esc(number(p.value))}</strong></li>`,
      )
      .join("");
    return (
      `<div class="ss-bar" aria-hidden="true">${bar}</div>` + `<ul class="ss-bar-keys">${keys}</ul>`
    );
  }

  /* Give each part of the stacked bars under `element` its share of the width. */
  function sizeBars(element) {
    for (const part of element.querySelectorAll(".ss-part[data-share]")) {
      part.style.flexGrow = part.dataset.share;
    }
  }

  SS.charts = { lineChart, stackedBar, sizeBars };
})();
