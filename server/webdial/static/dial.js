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
 */
(function () {
  "use strict";

  const RETRY_MS = 3000; // between sends of a commit that is not confirmed yet
  // Press and hold - or +: after HOLD_DELAY_MS the count steps every HOLD_EVERY_MS, so 40 to
  // 32 takes about a second instead of eight taps (a tap still steps once).
  const HOLD_DELAY_MS = 400;
  const HOLD_EVERY_MS = 100;

  const deviceId = decodeURIComponent(location.pathname.split("/").pop());
  // Relative, so the page also works behind a proxy that serves it under a path prefix.
  const api = new URL("../api/v1/dial/" + encodeURIComponent(deviceId), location.href).href;
  const keys = {
    secret: "shelter-signal.dial." + deviceId + ".secret",
    pending: "shelter-signal.dial." + deviceId + ".pending",
  };

  const $ = (id) => document.getElementById(id);
  let view = null; // the dial as GET {api} answered: shelter, mode, channels
  let retryTimer = null;
  let latest = 0; // number of the newest save on this page: answers to older ones are stale
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
  const REASON_WORDS = {
    no_bed: "no bed",
    not_eligible: "not eligible",
    not_eligible_gender: "not eligible (gender)",
    not_eligible_age: "not eligible (age)",
    not_eligible_pets: "not eligible (pets)",
    not_eligible_access: "not eligible (accessibility)",
    not_eligible_other: "not eligible (other)",
  };

  function showState() {
    const time = (date) => date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    let state = "ready";
    let text = "Ready";
    if (status.invalid) [state, text] = ["editing", status.invalid];
    else if (status.dirty) [state, text] = ["editing", "Not saved yet: press Save"];
    else if (status.rejected) [state, text] = ["rejected", "NOT SAVED: " + status.rejected];
    else if (status.offline)
      [state, text] = ["offline", "OFFLINE: cannot reach the server. Trying again..."];
    else if (status.pending)
      [state, text] = ["pending", `NOT CONFIRMED YET: ${status.pending.reason}. Trying again...`];
    else if (status.busy) [state, text] = ["sending", "Sending..."];
    else if (status.savedAt) {
      state = "saved";
      text = "SAVED at " + time(status.savedAt);
      if (status.turned) text += ": turned away, " + REASON_WORDS[status.turned];
      if (status.ended) text += ": hold " + status.ended;
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
    return { status: response.status, data };
  }

  function errorText(data) {
    return (data && data.error && data.error.message) || "the server could not take it";
  }

  async function openDial() {
    if (!localStorage.getItem(keys.secret)) return showSignIn("");
    let answer;
    try {
      answer = await call("GET", api);
    } catch (e) {
      return showSignIn("Cannot reach the server. Check the connection and try again.");
    }
    if (answer.status === 401) {
      localStorage.removeItem(keys.secret);
      return showSignIn("That secret does not open this dial.");
    }
    if (answer.status !== 200) return showSignIn(errorText(answer.data));
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
      return showSignIn("That secret no longer opens this dial.");
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
        status.rejected = commit.reason || "rejected";
      } else {
        status.rejected = errorText(answer.data);
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

  async function refresh() {
    // After a save, show the counts and times as the availability API now has them.
    try {
      const answer = await call("GET", api);
      if (answer.status === 200 && !status.dirty) render(answer.data);
    } catch (e) {
      // The save is confirmed; the refreshed times can wait for the next save.
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
    document.title = dial.shelter + ": web dial";
    $("shelter").textContent = dial.shelter;
    $("mode").textContent =
      dial.mode === "free" ? "Count the free places." : "Count the places in use.";
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
        const time = (iso) =>
          new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
        part.querySelector(".holds").replaceChildren(
          ...channel.holds.map((hold) => {
            const item = $("hold").content.cloneNode(true);
            const note = hold.note ? ` \u00b7 ${hold.note}` : "";
            item.querySelector(".what").textContent =
              `Held: ${hold.code} until ${time(hold.expires_at)}${note}`;
            for (const [name, how] of [
              ["arrived", "arrived"],
              ["release", "released"],
            ]) {
              const button = item.querySelector("." + name);
              button.setAttribute("aria-label", `${button.textContent}: ${hold.code}`);
              button.addEventListener("click", () => endHold(channel.channel, hold.id, how));
            }
            return item;
          }),
        );
        const why = part.querySelector(".away-why");
        why.setAttribute("aria-label", `${channel.label}: why not eligible`);
        part.querySelector(".away").setAttribute("aria-label", `${channel.label}: turned away`);
        part
          .querySelector(".away-bed")
          .addEventListener("click", () => turnAway(channel.channel, "no_bed"));
        part
          .querySelector(".away-eligible")
          .addEventListener("click", () => turnAway(channel.channel, why.value));
        for (const step of part.querySelectorAll(".step")) {
          const more = step.dataset.step === "1";
          step.setAttribute("aria-label", `${channel.label}: one ${more ? "more" : "less"}`);
          holdToStep(step, () => stepCount(channel.channel, Number(step.dataset.step)));
        }
        const updated = channel.updated_at && new Date(channel.updated_at);
        part.querySelector(".last").textContent = updated
          ? "Last saved " + updated.toLocaleString([], { dateStyle: "short", timeStyle: "short" })
          : "No count saved yet: it starts at the capacity; set it and press Save";
        return part;
      }),
    );
    // A channel never counted starts at its capacity, not blank: stepping down from there is
    // a few presses, where a blank field meant one tap per person.
    setCounts(dial.channels.map((channel) => channel.count ?? channel.capacity));
    $("sign-in").hidden = true;
    $("dial").hidden = false;
    showState();
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
    let text = "of " + capacity;
    if (count !== null && count > capacity) {
      text += " \u00b7 more than there are";
    } else if (count !== null) {
      const free = view.mode === "free" ? count : capacity - count;
      text += " \u00b7 " + free + " free";
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
        status.invalid = `Enter a whole number for ${view.channels[i].label}`;
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
    event.returnValue = "unsaved"; // older browsers need it set (their own words are shown)
  });
  $("forget").addEventListener("click", () => {
    localStorage.removeItem(keys.secret);
    localStorage.removeItem(keys.pending);
    status.pending = null;
    showSignIn("");
  });
  openDial();
})();
