/* Shelter Signal: the city page's turn-aways table (GET /api/v1/turnaways), newest night
 * first. With a city key, a row per sector and night; without, the city-wide totals, which
 * is all the API gives the public. Reasons: no bed, and not eligible with what did not fit.
 */
(function () {
  "use strict";

  const SS = window.ShelterSignal;
  const NOT_ELIGIBLE = [
    "not_eligible",
    "not_eligible_gender",
    "not_eligible_age",
    "not_eligible_pets",
    "not_eligible_access",
    "not_eligible_other",
  ];

  /* { reason: people } -> the cells: people, no bed, not eligible (with what did not fit) */
  function cells(people, byReason) {
    const { t, number, esc } = SS.text;
    const notEligible = NOT_ELIGIBLE.reduce((sum, r) => sum + (byReason[r] || 0), 0);
    const why = NOT_ELIGIBLE.slice(1)
      .filter((r) => byReason[r])
      .map((r) => t("city.away." + r, { n: number(byReason[r]) }))
      .join(", ");
    const whyHtml = why ? ` <span class="ss-muted">(${esc(why)})</span>` : "";
    return (
      `<td>${esc(number(people))}</td><td>${esc(number(byReason.no_bed || 0))}</td>` +
      `<td>${esc(number(notEligible))}${whyHtml}</td>`
    );
  }

  function rowsOf(night) {
    const { t, esc } = SS.text;
    const when = `<th scope="row">${esc(night.night)}</th>`;
    const row = (label, people, byReason) =>
      `<tr>${when}<td>${esc(label)}</td>${cells(people, byReason)}</tr>`;
    if (!night.by_sector) return [row(t("city.away.all"), night.people, night.by_reason)];
    const sectors = new Map();
    for (const row of night.by_sector) {
      const reasons = sectors.get(row.sector) || {};
      reasons[row.reason] = (reasons[row.reason] || 0) + row.people;
      sectors.set(row.sector, reasons);
    }
    if (!sectors.size) return [row(t("city.away.none"), 0, {})];
    return [...sectors].map(([sector, reasons]) => {
      const people = Object.values(reasons).reduce((a, b) => a + b, 0);
      return row(t("sector." + sector), people, reasons);
    });
  }

  function tableHtml(body) {
    const { t, esc } = SS.text;
    const columns = ["night", "sector", "people", "no_bed", "not_eligible"];
    const head = columns
      .map((name) => "city.away." + name)
      .map((key) => `<th scope="col">${esc(t(key))}</th>`)
      .join("");
    const rows = [...body.nights].reverse().flatMap(rowsOf).join("");
    return `<table><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`;
  }

  SS.turnAways = { tableHtml };
})();
