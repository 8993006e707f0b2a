/* Shelter Signal: the city page's alerts (GET/POST /api/v1/alerts). Anyone sees what is on;
 * city staff start one (kind and name: "cold", "Extreme Cold Weather Alert") and end it.
 * Programs tied to its kind open at their next window (docs/api.md).
 *
 * Stable hooks: #ss-alerts with .ss-alerts-list (li[data-alert] with button.ss-end) and the
 * form .ss-alert-form.
 */
(function () {
  "use strict";

  const SS = window.ShelterSignal;

  async function post(url, key, body) {
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + key },
      body: body ? JSON.stringify(body) : undefined,
    });
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) {
      const error = new Error(answer.error ? answer.error.message : "HTTP " + res.status);
      error.status = res.status;
      throw error;
    }
    return answer;
  }

  /* Wires the section: apiBase, keys (the page's keyStore), part(section, load) and
     failed(section, error) from city.js. Returns load(). */
  function start({ section, apiBase, keys, part, failed }) {
    const { t, esc } = SS.text;
    const list = section.querySelector(".ss-alerts-list");

    function load() {
      return part(section, async () => {
        const body = await SS.apiKey.getJson(apiBase + "/alerts?on=true", keys.get());
        const itemHtml = (a) => {
          const n = a.programs;
          const opens = t("city.alerts.item", { n, kind: a.kind, programs: n });
          const end = `<button type="button" class="ss-button ss-end">${esc(t("city.alerts.end"))}`;
          return (
            `<li data-alert="${esc(a.id)}"><strong>${esc(a.name)}</strong> ${esc(opens)} ` +
            `${end}</button></li>`
          );
        };
        list.innerHTML = body.items.length
          ? body.items.map(itemHtml).join("")
          : `<li>${esc(t("city.alerts.none"))}</li>`;
      });
    }

    section.querySelector(".ss-alert-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.target;
      try {
        await post(apiBase + "/alerts", keys.get(), {
          kind: form.elements.kind.value.trim(),
          name: form.elements.name.value.trim(),
        });
        load();
      } catch (error) {
        failed(section, error);
      }
    });

    list.addEventListener("click", async (event) => {
      const item = event.target.closest("button.ss-end") && event.target.closest("li");
      if (!item) return;
      try {
        await post(`${apiBase}/alerts/${item.dataset.alert}/end`, keys.get());
        load();
      } catch (error) {
        failed(section, error);
      }
    });
    return load;
  }

  SS.alerts = { start };
})();
