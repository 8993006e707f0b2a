"""The dial's application: commits counts, keeps them until the server confirms, shows state.

The hardware layer (firmware/main.py on the ESP32) and the host simulator both drive
this class: they feed it turns and presses, give it a transport and a Store, and
draw what `display.screen(app)` returns.

A transport is any object with (see firmware/README.md):
    connected                      -> bool
    async connect(will, on_message, on_up, on_down)   keeps (re)connecting by itself
    async publish(topic, payload, retain, qos)        raises OSError if the link drops
    async subscribe(topic, qos)
    async disconnect()
where will is (topic, payload, retain, qos), on_message(topic, payload) is called for
every message, `await on_up()` after every (re)connection and on_down() on every loss.
"""

import asyncio

from . import FIRMWARE_VERSION, protocol
from .clock import Uptime, ticks_diff, ticks_ms
from .dial import SETTLE_MS, Dial

RESEND_MS = 15000  # no ack this long after a send: send again (the server ignores duplicates)
TICK_MS = 50  # how often the settle timer is checked: well under what a person notices
TELEMETRY_S = 60  # health report period; QoS 0, a lost one is replaced a minute later


class App:
    def __init__(
        self,
        device_id,
        store,
        transport,
        shelter="",
        labels=("Beds",),
        capacities=(0,),
        mode="occupied",
        settle_ms=SETTLE_MS,
        telemetry_s=TELEMETRY_S,
        source="dial",
        unix_time=None,
        health=None,
        extras=None,
    ):
        self.device_id = device_id
        self.store = store
        self.transport = transport
        self.source = source
        self.telemetry_s = telemetry_s
        self.unix_time = unix_time  # returns Unix seconds once the clock is synced, else None
        self.health = health  # returns {"rssi": dBm, "free_heap": bytes} on the device
        # More of the server's messages, for parts beside the App (dialcore/update.py): an
        # object with handlers() -> {suffix: function(payload)} and `async on_up()`.
        self.extras = extras or []
        self.acks_saved = 0  # acks "saved" for a pending commit since start
        self.uptime = Uptime()
        self.alive_at = ticks_ms()  # the settle loop's heartbeat, for the device's watchdog
        self.sending_since = None  # ticks when the publish under way began, for the watchdog
        self.offline_since = self.alive_at
        self.rejected = None  # reason the server gave for refusing the newest commit
        store.load()
        store.start_boot()
        config = store.config or {
            "version": 0,
            "shelter": shelter,
            "mode": mode,
            "channels": list(zip(labels, capacities)),
        }
        self.config = config
        self.dial = Dial(store.counts, [cap for _, cap in config["channels"]], settle_ms)
        self.notice = None  # (what, ticks) of the newest turn-away or hold ended, for the screen
        self.choosing = None  # the hold the knob's next click ends (desk.arm), while held
        self._held = False  # the button is down (button_down/button_up from the board)
        self._gestured = False  # this hold was a gesture: its release does nothing
        self._wake = asyncio.Event()
        self._sent_at = None  # ticks when the pending commit was last sent
        self._announce = False  # a new config was applied: repeat the status with its version

    # -- what the hardware layer or the simulator calls -------------------------------

    def turn(self, steps):
        """A turn changes the count, but on a closed channel; with the button held it is a
        gesture (desk.py): its first click is a turn-away, or ends the hold desk.arm chose."""
        if self._held:
            if steps and not self._gestured:
                self._gestured = True
                from .desk import gesture

                gesture(self, steps)
            return
        if "closed" in self.config:
            from .desk import closed_turn

            steps = closed_turn(self, steps)
        self.dial.turn(steps, ticks_ms())

    def button_down(self):
        self._held, self._gestured = True, False

    def button_up(self):
        self._held, self.choosing = False, None

    def press(self):
        """Short press: commit now, then move to the next channel when there are several.
        The release of a turn-away gesture is no press."""
        if self._gestured:
            self._gestured = False
            return
        self.dial.press()
        self._commit()
        self.dial.next_channel()

    def end_hold(self, hold_id, how, channel=None):
        """End a hold shown on `channel` (the current one) as arrived or released (desk.py)."""
        from .desk import end  # imported when used: the heap stays small without holds

        self._commit(end(self, hold_id, how, channel))

    def turn_away(self, reason, channel=None):
        """Count one person turned away at `channel` (the current one) for `reason`, as a
        commit carrying the boot's running totals (desk.py)."""
        from .desk import turned_away

        self.notice = turned_away(self, reason, channel)
        self._commit()

    def resend(self):
        """Long press: send the newest commit again, acknowledged or not. False (nothing
        done) when the hold was a turn-away gesture."""
        if self._gestured:
            return False
        if self.dial.editing:  # a turn not yet settled is committed first, never sent unnumbered
            self.dial.press()
            self._commit()
        elif self.store.pending is None and self.store.seq:
            self.store.pending = self._snapshot(self.store.seq)
            self.store.save()
        self._wake.set()
        return True

    async def run(self):
        will = (self._topic("status"), self._status("lost"), True, 1)
        await self.transport.connect(will, self.on_message, self._on_up, self._on_down)
        await asyncio.gather(self._settle_loop(), self._sender(), self._telemetry_loop())

    async def stop(self):
        """Orderly shutdown: say "offline" (instead of the broker's "lost") and disconnect."""
        if self.transport.connected:
            await self.transport.publish(self._topic("status"), self._status("offline"), True, 1)
        await self.transport.disconnect()

    # -- state the display shows ---------------------------------------------------------

    @property
    def connected(self):
        return self.transport.connected

    @property
    def labels(self):
        return [label for label, _ in self.config["channels"]]

    def offline_ms(self, now):
        return 0 if self.offline_since is None else ticks_diff(now, self.offline_since)

    # -- messages from the server --------------------------------------------------------

    def on_message(self, topic, payload):
        try:
            device, suffix = protocol.parse_topic(topic)
            if device != self.device_id:
                return
            if suffix == "ack":
                self._on_ack(protocol.decode_ack(payload))
            elif suffix == "config":
                self._on_config(protocol.decode_config(payload))
            else:
                for extra in self.extras:
                    handler = extra.handlers().get(suffix)
                    if handler:
                        handler(payload)
        except ValueError as e:  # a bad message from the server must not stop the dial
            print("ignored message on", topic, ":", e)

    def _on_ack(self, ack):
        pending = self.store.pending
        if pending is None or pending["boot"] != ack["boot"] or pending["seq"] != ack["seq"]:
            return  # an older or repeated ack: the newest commit is still waiting
        newest = ack["newest_boot"]
        if newest is not None:
            # The server shows a later commit of this dial than this one: the board was
            # wiped or replaced and numbers from boot 1 again, which the server keeps as
            # older. Number on above the server's newest boot and commit the counts again
            # (docs/protocol.md, "A wiped or replaced board").
            print("boot", self.store.boot, "is behind the server's", newest, ": renumbering")
            self.store.renumber(max(newest, self.store.boot))
            self._commit()
            return
        self.store.pending = None
        if ack["result"] == "saved":
            self.acks_saved += 1
            self.store.acked_seq = ack["seq"]
            self.rejected = None
        else:
            self.rejected = ack["reason"] or "rejected"
        self.store.save()

    def _on_config(self, config):
        if config["version"] <= self.config["version"]:
            return  # the retained copy of what we already apply
        self.config = config
        self.store.config = config
        clamped = self.dial.reconfigure([cap for _, cap in config["channels"]])
        if "closed" in config:
            from .desk import keep_closed

            keep_closed(self)
        if clamped:
            self._commit()  # which puts the config on flash with the lowered counts
        else:
            self.store.save()
        self._announce = True  # the status message tells the server which version is applied
        self._wake.set()

    # -- internals -----------------------------------------------------------------------

    def _topic(self, suffix):
        return protocol.topic(self.device_id, suffix)

    def _status(self, state):
        return protocol.encode_status(
            state, self.store.boot, FIRMWARE_VERSION, self.config["version"]
        )

    def _snapshot(self, seq):
        ts = self.unix_time() if self.unix_time else None
        snapshot = {"boot": self.store.boot, "seq": seq, "ts": ts, "counts": list(self.dial.counts)}
        if self.store.turned:  # the boot's running totals: see docs/protocol.md, Turn-aways
            snapshot["turned"] = [dict(t) for t in self.store.turned]
        return snapshot

    def _commit(self, ended=None):
        """Number the current counts and put them on flash before anything is sent.
        ended: {channel: {hold id: how}} of holds this commit ends (end_hold)."""
        store = self.store
        # Holds ended by a commit that is replaced before its ack go on in this one: ending
        # a hold again changes nothing on the server, losing it would leave it held.
        carried = store.pending and store.pending.get("ended")
        store.seq += 1
        store.counts = list(self.dial.counts)
        self.dial.committed = list(self.dial.counts)
        store.pending = self._snapshot(store.seq)
        if ended or carried:
            from .desk import merged

            store.pending["ended"] = merged(carried, ended, len(self.dial.counts))
        store.save()
        self.rejected = None
        self._wake.set()

    def _state_payload(self, pending):
        extra = None
        if "turned" in pending or "ended" in pending:
            from .desk import extra_fields

            extra = extra_fields(pending)
        caps = self.dial.capacities
        return protocol.encode_state(
            pending["boot"],
            pending["seq"],
            self.config["mode"],
            self.config["version"],
            [(c, caps[i] if i < len(caps) else c) for i, c in enumerate(pending["counts"])],
            pending["ts"],
            self.source,
            extra,
        )

    async def _on_up(self):
        self.offline_since = None
        await self.transport.subscribe(self._topic("ack"), 1)
        await self.transport.subscribe(self._topic("config"), 1)
        for extra in self.extras:
            for suffix in extra.handlers():
                await self.transport.subscribe(self._topic(suffix), 1)
        self._announce = False  # this birth message already carries any config applied so far
        await self.transport.publish(self._topic("status"), self._status("online"), True, 1)
        self._sent_at = None
        self._wake.set()  # replay the newest unacknowledged commit
        for extra in self.extras:
            await extra.on_up()

    def _on_down(self):
        if self.offline_since is None:
            self.offline_since = ticks_ms()

    async def _settle_loop(self):
        while True:
            now = ticks_ms()
            self.alive_at = now
            self.uptime.seconds()  # often enough to count past the tick clock's wrap
            if self.dial.due(now):
                self._commit()
            pending_for = None if self._sent_at is None else ticks_diff(now, self._sent_at)
            if self.store.pending and pending_for is not None and pending_for > RESEND_MS:
                self._sent_at = None
                self._wake.set()
            await asyncio.sleep(TICK_MS / 1000)

    async def _sender(self):
        """The one task that sends states: the newest pending commit, once per wake-up."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self.transport.connected:
                continue  # _on_up wakes us again
            try:
                if self._announce:
                    self._announce = False
                    await self.transport.publish(
                        self._topic("status"), self._status("online"), True, 1
                    )
                pending = self.store.pending
                if pending is not None:
                    self._sent_at = self.sending_since = ticks_ms()
                    await self.transport.publish(
                        self._topic("state"), self._state_payload(pending), True, 1
                    )
            except OSError as e:  # link dropped mid-send: on_up replays it
                print("send failed:", e)
            self.sending_since = None

    async def _telemetry_loop(self):
        while True:
            await asyncio.sleep(self.telemetry_s)
            if not self.transport.connected:
                continue
            health = self.health() if self.health else {}
            payload = protocol.encode_telemetry(
                self.uptime.seconds(),
                FIRMWARE_VERSION,
                1 if self.store.pending else 0,
                self.store.acked_seq,
                health.get("rssi"),
                health.get("free_heap"),
            )
            try:
                await self.transport.publish(self._topic("telemetry"), payload, False, 0)
            except OSError:
                pass  # telemetry is best effort; the next one follows
