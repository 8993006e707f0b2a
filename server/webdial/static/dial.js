/* Shelter Signal web dial: the page at /dial/<device id>.
 *
 * Staff enter the dial's secret once (kept in this phone's localStorage), set each
 * channel's count with the big - and + buttons or by typing, and press Save. The server
 * sends the counts as the dial's `state` message and answers with what the ingestor said:
 *   saved    -> SAVED
 *   rejected -> NOT SAVED: <reason>
 *   pending  -> NOT CONFIRMED YET; this page sends the same commit again every RETRY_MS,
 *               also after a reload (the commit waits in localStorage), as a dial keeps
 *               its newest unacknowledged commit on flash.
 * The state line (#state, data-state) follows the dial's display: what is happening now
 * wins over what happened before (firmware/dialcore/display.py).
 *
 * A place held by an outreach worker shows under its channel with its code, when it ends and
 * the worker's note. "Arrived" saves the counts with the person counted in and the hold
 * ended in the same commit; "Release" lets the place go.
 *
 * "Turned away" (one tap: no bed, or not eligible with the reason chosen beside it) saves
 * the counts shown with one person turned away; the tap carries an id of its own, so when
 * its answer is lost and it is sent again, the server counts the person once.
 *
 * A closed surge or warming program (server/alerts.py) shows CLOSED and why in place of its
 * counting; every commit carries its count unchanged (a commit holds every channel's).
 *
 * Every word comes from the map's catalogues (map/static/i18n, keys "dial.") through the
 * map's text.js, in the language the server chose for the page (map/i18n.py).
 */
(function () {
  "use strict";

  const RETRY_MS = 3000; // between sends of a commit that is not confirmed yet
  // Press and hold - or +: after HOLD_DELAY_MS the count steps every HOLD_EVERY_MS, so 40 to
  // 32 takes about a second instead of eight taps (a tap still steps once).
  const HOLD_DELAY_MS = 400;
  const HOLD_EVERY_MS = 100;
  // A desk keeps the page open all night: holds placed by outreach and programs that an alert
  // opens or closes show within a minute, without a reload (the view is a few hundred bytes).
  const REFRESH_MS = 60000;

  const deviceId = decodeURIComponent(location.pathname.split("/").pop());
  // Relative, so the page also works behind a proxy that serves it under a path prefix.
  const api = new URL("../api/v1/dial/" + encodeURIComponent(deviceId), location.href).href;
  const keys = {
    secret: "shelter-signal.dial." + deviceId + ".secret",
    pending: "shelter-signal.dial." + deviceId + ".pending",
  };

  const $ = (id) => document.getElementById(id);
  const SS = window.ShelterSignal;
  SS.text.setup(JSON.parse($("ss-config").textContent));
  const { t, number } = SS.text;
  const clock = (date) =>
    date.toLocaleTimeString(SS.text.lang(), { hour: "2-digit", minute: "2-digit" });
  let view = null; // the dial as GET {api} answered: shelter, mode, channels
  let retryTimer = null;
  let latest = 0; // number of the newest save on this page: answers to older ones are stale
  // The "not eligible" reason chosen per channel: a refresh draws the channels again and must
  // not put the choice back to the first reason while staff are about to tap
  const whyChosen = {};
  const status = {
    invalid: null, // what is wrong with a typed count
    dirty: false, // counts changed since the last save
    rejected: null, // the reason the newest commit was refused
    offline: false, // the server could not be reached
    busy: false, // a request is under way
    pending: null, // {boot, seq, ts, counts, reason}: sent, not confirmed yet
    savedAt: null, // when the newest commit was confirmed
    turned: null, // what the newest tap recorded, said with its SAVED
    ended: null, // how the newest save ended a hold (arrived, released), said with it
  };

  /* Why a commit is pending, in the reader's words when the server gave a code for it. */
  function pendingWhy(commit) {
    return commit.code ? t("dial.pending." + commit.code) : commit.reason;
  }

  function showState() {
    let state = "ready";
    let text = t("dial.state.ready");
    if (status.invalid) [state, text] = ["editing", status.invalid];
    else if (status.dirty) [state, text] = ["editing", t("dial.state.editing")];
    else if (status.rejected)
      [state, text] = ["rejected", t("dial.state.rejected", { reason: status.rejected })];
    else if (status.offline) [state, text] = ["offline", t("dial.state.offline")];
    else if (status.pending)
      [state, text] = ["pending", t("dial.state.pending", { reason: pendingWhy(status.pending) })];
    else if (status.busy) [state, text] = ["sending", t("dial.state.sending")];
    else if (status.savedAt) {
      state = "saved";
      const time = clock(status.savedAt);
      text = t("dial.state.saved", { time });
      if (status.turned)
        text = t("dial.state.saved_turned", { time, reason: t("dial.turned." + status.turned) });
      if (status.ended) text = t("dial.state.saved_" + status.ended, { time });
    }
    const line = $("state");
    line.dataset.state = state;
    line.textContent = text;
  }

  // -- talking to the server -----------------------------------------------------------

  async function call(method, url, body) {
    const response = await fetch(url, {
      method,
      cache: "no-store",
      headers: {
        Authorization: "Bearer " + localStorage.getItem(keys.secret),
        "Content-Type": "application/json",
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => null);
    return { status: response.status, data, retryAfter: response.headers.get("Retry-After") };
  }

  /* What went wrong with a request, in the reader's words where the status says it all;
     else the server's own message. */
  function errorText(answer) {
    if (answer.status === 429) {
      const n = Math.ceil(Number(answer.retryAfter) / 60) || 1;
      return t("dial.error.locked", { n, minutes: number(n) });
    }
    if (answer.status === 403) return t("dial.error.hardware");
    if (answer.status === 503) return t("dial.error.no_broker");
    const data = answer.data;
    const message = (data && data.error && data.error.message) || "HTTP " + answer.status;
    return t("dial.error.other", { message });
  }

  async function openDial() {
    if (!localStorage.getItem(keys.secret)) return showSignIn("");
    let answer;
    try {
      answer = await call("GET", api);
    } catch (e) {
      return showSignIn(t("dial.error.unreachable"));
    }
    if (answer.status === 401) {
      localStorage.removeItem(keys.secret);
      return showSignIn(t("dial.error.wrong_secret"));
    }
    if (answer.status !== 200) return showSignIn(errorText(answer));
    render(answer.data);
    const stored = JSON.parse(localStorage.getItem(keys.pending) || "null");
    if (stored) {
      status.pending = stored;
      setCounts(stored.counts);
      repeat();
    }
  }

  function commitAnswer(answer) {
    status.busy = false;
    status.offline = false;
    if (answer.status === 401) {
      localStorage.removeItem(keys.secret);
      return showSignIn(t("dial.error.secret_ended"));
    }
    const commit = answer.data;
    if (answer.status === 202) {
      status.pending = commit;
      localStorage.setItem(keys.pending, JSON.stringify(commit));
      retryTimer = setTimeout(repeat, RETRY_MS);
    } else {
      status.pending = null;
      localStorage.removeItem(keys.pending);
      if (answer.status === 200 && commit.result === "saved") {
        status.savedAt = new Date();
        refresh();
      } else if (answer.status === 200) {
        status.rejected = commit.reason; // the ingestor's own words: it sends no code
      } else {
        status.rejected = errorText(answer);
      }
    }
    showState();
  }

  function offline(again) {
    status.busy = false;
    status.offline = true;
    showState();
    retryTimer = setTimeout(again, RETRY_MS);
  }

  async function commitNew(counts, save, turnAway, endHold) {
    status.busy = true;
    showState();
    let answer;
    try {
      const body = { counts };
      if (turnAway) body.turn_away = turnAway;
      if (endHold) body.end_hold = endHold;
      answer = await call("POST", api + "/commits", body);
    } catch (e) {
      // Not numbered yet: send the counts as a new commit again (should the first have
      // arrived after all, the same counts are stored twice, in order: harmless; a tap
      // keeps its id, so its person is counted once).
      if (save === latest) offline(() => commitNew(counts, save, turnAway, endHold));
      return;
    }
    if (save === latest) commitAnswer(answer);
  }

  async function repeat() {
    const commit = status.pending;
    if (!commit) return;
    status.busy = true;
    showState();
    let answer;
    try {
      answer = await call("PUT", `${api}/commits/${commit.boot}/${commit.seq}`, {
        counts: commit.counts,
        ts: commit.ts,
        turned_away: commit.turned_away || [],
        holds_ended: commit.holds_ended || [],
      });
    } catch (e) {
      if (status.pending === commit) offline(repeat);
      return;
    }
    if (status.pending === commit) commitAnswer(answer); // else a newer save replaced it
  }

  /* Nothing typed, being sent or waiting to be confirmed: the page may show the server's view. */
  function idle() {
    return !status.dirty && !status.invalid && !status.busy && !status.pending;
  }

  async function refresh() {
    // After a save, and every REFRESH_MS: the counts, times, holds and open programs as the
    // availability API now has them.
    try {
      const answer = await call("GET", api);
      if (answer.status === 200 && idle()) render(answer.data);
    } catch (e) {
      // No connection: the next save or refresh shows them.
    }
  }

  // -- the page ------------------------------------------------------------------------

  function showSignIn(message) {
    clearTimeout(retryTimer);
    $("dial").hidden = true;
    $("sign-in").hidden = false;
    $("sign-in-error").textContent = message;
    $("secret").value = "";
    $("secret").focus();
  }

  function inputs() {
    return Array.from(document.querySelectorAll("#channels .count"));
  }

  function render(dial) {
    view = dial;
    document.title = t("dial.title_shelter", { shelter: dial.shelter });
    $("shelter").textContent = dial.shelter;
    $("mode").textContent = t("dial.mode." + dial.mode);
    const list = $("channels");
    list.replaceChildren(
      ...dial.channels.map((channel) => {
        const part = $("channel").content.cloneNode(true);
        const id = "count-" + channel.channel;
        const input = part.querySelector(".count");
        input.id = id;
        input.setAttribute("aria-describedby", "detail-" + channel.channel);
        input.addEventListener("input", edited);
        part.querySelector(".label").textContent = channel.label;
        part.querySelector(".label").htmlFor = id;
        part.querySelector(".detail").id = "detail-" + channel.channel;
        const time = (iso) => clock(new Date(iso));
        showOpening(part, channel);
        part.querySelector(".holds").replaceChildren(
          ...channel.holds.map((hold) => {
            const item = $("hold").content.cloneNode(true);
            const note = hold.note ? ` \u00b7 ${hold.note}` : "";
            item.querySelector(".what").textContent =
              t("dial.hold.item", { code: hold.code, until: time(hold.expires_at) }) + note;
            for (const [name, how] of [
              ["arrived", "arrived"],
              ["release", "released"],
            ]) {
              const button = item.querySelector("." + name);
              button.setAttribute("aria-label", t(`dial.hold.${name}_label`, { code: hold.code }));
              button.addEventListener("click", () => endHold(channel.channel, hold.id, how));
            }
            return item;
          }),
        );
        const why = part.querySelector(".away-why");
        why.setAttribute("aria-label", t("dial.away.why", { label: channel.label }));
        why.value = whyChosen[channel.channel] ?? why.value;
        why.addEventListener("change", () => (whyChosen[channel.channel] = why.value));
        part
          .querySelector(".away")
          .setAttribute("aria-label", t("dial.away.group", { label: channel.label }));
        part
          .querySelector(".away-bed")
          .addEventListener("click", () => turnAway(channel.channel, "no_bed"));
        part
          .querySelector(".away-eligible")
          .addEventListener("click", () => turnAway(channel.channel, why.value));
        for (const step of part.querySelectorAll(".step")) {
          const more = step.dataset.step === "1";
          const words = more ? "dial.step.more" : "dial.step.less";
          step.setAttribute("aria-label", t(words, { label: channel.label }));
          holdToStep(step, () => stepCount(channel.channel, Number(step.dataset.step)));
        }
        const updated = channel.updated_at && new Date(channel.updated_at);
        const when = (date) =>
          date.toLocaleString(SS.text.lang(), { dateStyle: "short", timeStyle: "short" });
        part.querySelector(".last").textContent = updated
          ? t("dial.last_saved", { when: when(updated) })
          : t("dial.never_saved");
        return part;
      }),
    );
    // A channel never counted starts at its capacity, not blank: stepping down from there is
    // a few presses, where a blank field meant one tap per person. A closed program's count
    // goes along unchanged; never counted, it is empty (nobody is in a closed centre).
    const empty = (channel) => (dial.mode === "free" ? channel.capacity : 0);
    const start = (channel) => (channel.is_open ? channel.capacity : empty(channel));
    setCounts(dial.channels.map((channel) => channel.count ?? start(channel)));
    $("sign-in").hidden = true;
    $("dial").hidden = false;
    showState();
  }

  /* A closed surge or warming program: CLOSED and why, and nothing to count; an open one
     says which alert it is open for, until when. */
  function showOpening(part, channel) {
    const closed = part.querySelector(".closed");
    closed.hidden = channel.is_open;
    part.querySelector(".counting").hidden = !channel.is_open;
    if (!channel.is_open) {
      const hours = channel.window_start && channel.window_end;
      closed.querySelector(".why").textContent = t(
        hours ? "dial.closed.why_window" : "dial.closed.why",
        { kind: channel.opens_with_alert, start: channel.window_start, end: channel.window_end },
      );
    } else if (channel.open_for) {
      const openFor = part.querySelector(".open-for");
      openFor.hidden = false;
      openFor.textContent = t("dial.open_for", {
        alert: channel.open_for,
        until: clock(new Date(channel.open_until)),
      });
    }
  }

  function setCounts(counts) {
    inputs().forEach((input, i) => {
      input.value = counts[i] == null ? "" : String(counts[i]);
      describe(i);
    });
  }

  function describe(i) {
    const capacity = view.channels[i].capacity;
    const count = parseCount(inputs()[i].value);
    let text = t("dial.of", { capacity: number(capacity) });
    if (count !== null && count > capacity) {
      text += " \u00b7 " + t("dial.above");
    } else if (count !== null) {
      const free = view.mode === "free" ? count : capacity - count;
      text += " \u00b7 " + t("dial.free", { n: free, free: number(free) });
    }
    $("detail-" + i).textContent = text;
  }

  function parseCount(text) {
    return /^\s*\d+\s*$/.test(text) ? Number(text) : null;
  }

  function stepCount(i, step) {
    const input = inputs()[i];
    const count = parseCount(input.value);
    const capacity = view.channels[i].capacity;
    // As on the dial: turning stops at 0 and at the capacity.
    const next = Math.min(Math.max((count === null ? 0 : count) + step, 0), capacity);
    input.value = String(next);
    edited({ target: input });
  }

  /* A press steps once at once, then, held, again every HOLD_EVERY_MS. A click without a
     pointer (keyboard, screen reader: detail 0) steps once. */
  function holdToStep(button, step) {
    let timer = null;
    const stop = () => {
      clearTimeout(timer);
      clearInterval(timer);
      timer = null;
    };
    button.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      stop();
      step();
      timer = setTimeout(() => (timer = setInterval(step, HOLD_EVERY_MS)), HOLD_DELAY_MS);
    });
    for (const end of ["pointerup", "pointerleave", "pointercancel"]) {
      button.addEventListener(end, stop);
    }
    button.addEventListener("click", (event) => {
      if (event.detail === 0) step();
    });
  }

  function edited(event) {
    const i = inputs().indexOf(event.target);
    event.target.removeAttribute("aria-invalid");
    status.invalid = null;
    status.dirty = true;
    status.rejected = null;
    describe(i);
    showState();
  }

  function save(event) {
    event.preventDefault();
    send(null);
  }

  function endHold(channel, holdId, how) {
    if (how === "arrived") {
      // The person is counted in by the same commit: one more in use, one less free.
      stepCount(channel, view.mode === "free" ? -1 : 1);
    }
    send(null, { channel, hold_id: holdId, how });
  }

  function turnAway(channel, reason) {
    const bytes = crypto.getRandomValues(new Uint8Array(12)); // the tap's id: see the top
    const id = "tap-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    send({ channel, reason, id });
  }

  function send(turnAway, endHold) {
    const counts = [];
    for (const [i, input] of inputs().entries()) {
      const count = parseCount(input.value);
      if (count === null) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
        status.invalid = t("dial.state.invalid", { label: view.channels[i].label });
        return showState();
      }
      counts.push(count);
    }
    // A new commit replaces an unconfirmed older one, as on the dial.
    clearTimeout(retryTimer);
    localStorage.removeItem(keys.pending);
    Object.assign(status, { dirty: false, rejected: null, pending: null, savedAt: null });
    status.turned = turnAway && turnAway.reason;
    status.ended = endHold && endHold.how;
    latest += 1;
    commitNew(counts, latest, turnAway, endHold);
  }

  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem(keys.secret, $("secret").value.trim());
    openDial();
  });
  $("dial").addEventListener("submit", save);
  // An edit not saved yet is not lost to a reload or a closed tab without a warning.
  window.addEventListener("beforeunload", (event) => {
    if (!status.dirty) return;
    event.preventDefault();
    event.returnValue = t("dial.unsaved"); // older browsers need it set (most show their own)
  });
  $("forget").addEventListener("click", () => {
    localStorage.removeItem(keys.secret);
    localStorage.removeItem(keys.pending);
    status.pending = null;
    showSignIn("");
  });
  setInterval(() => {
    if (view && !$("dial").hidden && idle()) refresh();
  }, REFRESH_MS);
  openDial();
})();
