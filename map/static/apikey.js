/* Shelter Signal: an API key typed into a page, for the pages that ask for one (the city page
 * for city staff, the map for outreach workers).
 *
 * The key is kept in sessionStorage (this tab only: gone when it closes, so a shared computer
 * forgets it), never in the URL, and sent only to this server as "Authorization: Bearer".
 * Each page keeps its own key under its own storage name.
 *
 * Markup a key section needs (map/templates/city.html, map_chrome.html): #ss-key-form with the
 * input #ss-key-input, #ss-key-in-use (shown while a key is kept) with the button
 * #ss-key-forget, and a .ss-note for messages.
 */
(function () {
  "use strict";

  const SS = window.ShelterSignal;

  /* The key kept under `name`. Storage blocked (some private modes): the key lasts as long as
     the page. */
  function keyStore(name) {
    let unstored = null;
    return {
      get() {
        try {
          return sessionStorage.getItem(name);
        } catch {
          return unstored;
        }
      },
      set(key) {
        try {
          sessionStorage.setItem(name, key);
        } catch {
          unstored = key;
        }
      },
      forget() {
        unstored = null;
        try {
          sessionStorage.removeItem(name);
        } catch {
          // storage blocked: only the in-page copy existed
        }
      },
    };
  }

  /* GET `url` with `key` (if any); resolves to the JSON body or throws an Error with .status
     and the server's own message (its error shape: {"error": {"code", "message"}}). `meta`
     gets savedAt: when the answer was fetched if it is the offline copy (sw.js), else null. */
  async function getJson(url, key, meta = {}) {
    const headers = { Accept: "application/json" };
    if (key) headers.Authorization = "Bearer " + key;
    const res = await fetch(url, { headers, cache: "no-store" });
    if (res.ok) {
      // A kept copy has no Date: the page's clock stays the server's, so ages stay true.
      SS.text.setServerTime(res.headers.get("Date"));
      const saved = Date.parse(res.headers.get("X-Shelter-Signal-Saved"));
      meta.savedAt = Number.isNaN(saved) ? null : saved;
      return res.json();
    }
    let message = "HTTP " + res.status;
    try {
      message = (await res.json()).error.message;
    } catch {
      // not our JSON error shape (a proxy's page, say): keep the status
    }
    const error = new Error(message);
    error.status = res.status;
    throw error;
  }

  /* `method` `url` with `key` and the JSON `body` (if any): resolves to the JSON answer (or
     {} when there is none, as for 204) or throws as getJson does. */
  async function send(method, url, key, body) {
    const res = await fetch(url, {
      method,
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        Authorization: "Bearer " + key,
      },
      body: body ? JSON.stringify(body) : undefined,
      cache: "no-store",
    });
    const answer = await res.json().catch(() => ({}));
    if (res.ok) return answer;
    const error = new Error(answer.error ? answer.error.message : "HTTP " + res.status);
    error.status = res.status;
    throw error;
  }

  /* Wires the key section `root` to `keys` (a keyStore). check(key), if given, may refuse a
     key before it is kept, by throwing; explain(error) then says why in words, in the
     section's note. onChange(signedIn) runs after every sign-in and sign-out. Returns
     signOut(message), for when the server stops accepting the kept key. */
  function keyPrompt(keys, root, { onChange, check = async () => {}, explain }) {
    const form = root.querySelector("#ss-key-form");
    const input = root.querySelector("#ss-key-input");
    const inUse = root.querySelector("#ss-key-in-use");
    const note = root.querySelector(".ss-note");
    inUse.tabIndex = -1; // focus lands on the new state after signing in

    function show() {
      const signedIn = Boolean(keys.get());
      form.hidden = signedIn;
      inUse.hidden = !signedIn;
    }

    function signOut(message = "") {
      keys.forget();
      note.textContent = message;
      show();
      onChange(false);
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const key = input.value.trim();
      note.textContent = "";
      if (!key) {
        input.value = ""; // only spaces: the browser says the field is empty
        input.reportValidity();
        return;
      }
      try {
        await check(key);
      } catch (error) {
        note.textContent = explain(error);
        input.select();
        return;
      }
      keys.set(key);
      input.value = "";
      show();
      inUse.focus();
      onChange(true);
    });
    root.querySelector("#ss-key-forget").addEventListener("click", () => {
      signOut();
      input.focus();
    });
    show();
    return { signOut };
  }

  SS.apiKey = { keyStore, getJson, send, keyPrompt };
})();
