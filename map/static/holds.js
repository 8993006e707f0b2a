/* Shelter Signal: holds from the outreach map (docs/map.md, Holds).
 *
 * Signed in with an outreach key, every program with a free place offers "Hold a place" in
 * its popup and list entry (sites.js draws the button) and in the find-a-bed results
 * (find.js, with buttonHtml below); it shows only while <html> has the class ss-outreach,
 * which this file sets, and one click handler here places the hold wherever it was pressed.
 * The worker's active holds are listed under the sign-in, each with the code to read out to
 * the desk, when it ends, and Cancel.
 *
 * Stable hooks: button.ss-hold[data-program], #ss-holds, li[data-hold] with button.ss-cancel.
 */
(function () {
  "use strict";

  const SS = window.ShelterSignal;
  const { t, esc } = SS.text;

  /* apiBase: where /holds is; keys: the page's keyStore; announce(text): the status line;
     changed(): reload the sites (their held count changed). Returns { refresh }. */
  function start({ apiBase, keys, announce, changed }) {
    const list = document.createElement("ul");
    list.id = "ss-holds";
    list.className = "ss-holds";
    list.setAttribute("aria-label", t("hold.list"));
    document.getElementById("ss-key-in-use").after(list);
    const clock = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
      hour: "numeric",
      minute: "2-digit",
    });

    function call(method, path, body) {
      return SS.apiKey.send(method, apiBase + path, keys.get(), body);
    }

    function itemHtml(hold) {
      const until = clock.format(new Date(hold.expires_at));
      return (
        `<li data-hold="${hold.id}"><strong class="ss-code">${esc(hold.code)}</strong> ` +
        `${esc(t("hold.item", { program: hold.program_name, until }))} ` +
        `<button type="button" class="ss-button ss-cancel">${esc(t("hold.cancel"))}</button></li>`
      );
    }

    async function refresh() {
      const signedIn = Boolean(keys.get());
      document.documentElement.classList.toggle("ss-outreach", signedIn);
      if (!signedIn) {
        list.innerHTML = "";
        return;
      }
      try {
        const holds = (await call("GET", "/holds")).items;
        list.innerHTML = holds.map(itemHtml).join("");
      } catch {
        // the key was refused: live.js signs out and says why
      }
    }

    document.addEventListener("click", async (event) => {
      const button = event.target.closest("button.ss-hold");
      if (!button || !keys.get()) return;
      button.disabled = true;
      try {
        const hold = await call("POST", `/programs/${button.dataset.program}/holds`, {});
        const until = clock.format(new Date(hold.expires_at));
        announce(t("hold.placed", { code: hold.code, until }));
        changed();
        refresh();
      } catch (error) {
        announce(t("hold.refused", { message: error.message }));
      } finally {
        button.disabled = false;
      }
    });

    list.addEventListener("click", async (event) => {
      const item = event.target.closest("button.ss-cancel") && event.target.closest("li");
      if (!item) return;
      try {
        const hold = await call("POST", `/holds/${item.dataset.hold}/cancel`);
        announce(t("hold.cancelled", { code: hold.code }));
      } catch (error) {
        announce(t("hold.refused", { message: error.message }));
      }
      changed();
      refresh();
    });

    return { refresh };
  }

  /* The "Hold a place" button of program `p`: only where it takes people and a place is
     free ("" elsewhere); map.css shows it to a signed-in worker only. */
  function buttonHtml(p) {
    if (!p.accepting || !(Number(p.available) > 0)) return "";
    return (
      `<button type="button" class="ss-button ss-hold" data-program="${esc(p.id)}">` +
      `${esc(t("hold.button"))}</button>`
    );
  }

  SS.holds = { start, buttonHtml };
})();
