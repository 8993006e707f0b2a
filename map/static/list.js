/* Shelter Signal: the list of shelters, an equal of the map (many outreach workers prefer it).
 *
 * An ordered list with one entry per site, each under its own heading, so a screen reader can
 * jump from shelter to shelter; every entry says everything its popup says. Counts change in
 * place as they arrive. The order is only rebuilt while focus is outside the list, so a
 * keyboard or screen-reader user never loses their place to a live update.
 */
(function () {
  "use strict";

  const SS = window.ShelterSignal;
  const { t, number, esc } = SS.text;
  const S = SS.sites;

  const PAGE = 50; // entries shown at first and added by "Show more": a phone scrolls 50 easily

  /* The list inside `root` (an <ol>); `more` is the "Show more" button and `count` the line
     saying how many are shown. onShowOnMap(id) is called by an entry's "Show on map". */
  function siteList(root, more, count, onShowOnMap) {
    const entries = new Map(); // site id -> { li, html }
    let limit = PAGE;
    let latest = null; // the last update's arguments, to apply when focus leaves the list
    let focusing = null; // the index of the entry "Show more" moves focus to once it is there

    function entryHtml(site, here) {
      let place = ""; // a confidential entry already says to call intake
      if (site.lat != null && site.lon != null) {
        place =
          `<button type="button" class="ss-action ss-show" data-site-id="${esc(site.id)}">` +
          `${esc(t("list.show_on_map"))}</button>`;
      } else if (!site.confidential) {
        place = `<span class="ss-muted">${esc(t("list.not_on_map"))}</span>`;
      }
      return S.detailHtml(site, {
        heading: "h3",
        distance: S.distanceKm(site, here),
        extra: place,
        folded: true,
        // A signed-in worker holds places from each program's line (holds.js marks the page
        // ss-outreach): those lines stay in view, not folded away.
        programs: document.documentElement.classList.contains("ss-outreach"),
      });
    }

    function entry(site, here) {
      const id = String(site.id);
      const html = entryHtml(site, here);
      let known = entries.get(id);
      if (!known) {
        const li = document.createElement("li");
        li.className = "ss-entry";
        li.dataset.siteId = id;
        li.tabIndex = -1; // "Show more" moves focus to the first new entry
        known = { li, html: null };
        entries.set(id, known);
      }
      known.li.dataset.status = S.statusOf(site);
      // An entry holding focus keeps its old text until focus moves on (rewriting it would
      // drop the focus); it is redone by the update that runs when focus leaves the list.
      if (known.html !== html && !known.li.contains(document.activeElement)) {
        const unfolded = known.li.querySelector("details")?.open; // keep what the reader opened
        known.li.innerHTML = html;
        known.html = html;
        if (unfolded) known.li.querySelector("details").open = true;
      }
      return known.li;
    }

    /* Show `sites` (already filtered and sorted) out of `total`; `here` adds distances.
       `matching`: how many match, when `sites` are only the first of them (the list's first
       page, before the page has the whole list). */
    function update(sites, total, here, matching = sites.length) {
      latest = [sites, total, here, matching];
      const shown = sites.slice(0, limit);
      const items = shown.map((site) => entry(site, here));
      if (!root.contains(document.activeElement)) {
        const keep = new Set(items);
        for (const [id, known] of entries) {
          if (!keep.has(known.li)) {
            known.li.remove();
            entries.delete(id);
          }
        }
        items.forEach((li, i) => {
          if (root.children[i] !== li) root.insertBefore(li, root.children[i] || null);
        });
      }
      count.textContent = matching
        ? t("list.count", { n: total, shown: number(matching), total: number(total) })
        : t("list.empty");
      if (focusing != null && root.children[focusing]) {
        root.children[focusing].focus();
        focusing = null;
      }
      const hidden = matching - shown.length;
      more.hidden = hidden <= 0;
      more.textContent = t("list.more", { n: number(Math.min(PAGE, hidden)) });
    }

    more.addEventListener("click", () => {
      focusing = limit; // the first new entry, now or when the whole list has come
      limit += PAGE;
      update(...latest);
    });
    root.addEventListener("focusout", (event) => {
      if (!root.contains(event.relatedTarget) && latest) update(...latest);
    });
    root.addEventListener("click", (event) => {
      const button = event.target.closest(".ss-show");
      if (button) onShowOnMap(button.dataset.siteId);
    });

    return { update, reset: () => (limit = PAGE) };
  }

  SS.siteList = siteList;
  SS.siteList.PAGE = PAGE; // the list's first page, as live.js asks the server for it
})();
