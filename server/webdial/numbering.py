"""The (boot, seq) of each web commit, numbered the way a device numbers its own.

A device keeps a boot counter (+1 at every start) and a commit counter on its flash. For a
web dial the API process is the device: the first web commit of a dial after the process
starts takes the dial's next boot, kept where the server keeps every device's boot
(Device.boot, raised atomically in the database), and its commits are then numbered in
memory, continuing from the highest seq stored for the dial.

Why a new boot at every start rather than boot 1 and "highest stored seq + 1": a commit
that was sent but is not stored yet (the ingestor is down: the page shows it as pending)
is in no table. A restarted API would hand out its number again for other counts; when
both reached the ingestor, the second would look like a resend of the first and be
acknowledged as saved without being stored. A fresh boot never repeats a number handed out
before, and (boot, seq) order still ranks the newer commit above the older one.
"""

import threading

from sqlalchemy import func, update
from sqlmodel import Session, select

from server.models import Device, Reading


class Numbering:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # route functions run in a thread pool
        # device id -> (boot, first seq, next seq) of the numbers handed out here
        self._handed: dict[str, tuple[int, int, int]] = {}
        # device id -> (boot, per channel {reason: running total}, tap ids counted): the
        # turn-aways of this process's boot, as a dial keeps its own (docs/protocol.md)
        self._turned: dict[str, tuple[int, list[dict[str, int]], set[str]]] = {}

    def turned(
        self, device_id: str, boot: int, channels: int, tap: tuple[int, str, str] | None = None
    ) -> list[dict[str, int]]:
        """The running turn-away totals of the dial's boot `boot`, after counting `tap`
        ((channel, reason, id): one person) unless a tap with its id was counted already
        (the page sends a tap again when the answer to it was lost)."""
        with self._lock:
            known, totals, taps = self._turned.get(device_id, (boot, [], set()))
            if known != boot:
                totals, taps = [], set()
            totals += [{} for _ in range(channels - len(totals))]
            if tap is not None and tap[2] not in taps:
                channel, reason, tap_id = tap
                totals[channel][reason] = totals[channel].get(reason, 0) + 1
                taps.add(tap_id)
            self._turned[device_id] = (boot, totals, taps)
            return [dict(t) for t in totals] if any(totals) else []  # none yet: nothing to say

    def next(self, session: Session, device_id: str) -> tuple[int, int]:
        """Hand out the next (boot, seq) of a dial; a dial's first one commits its new boot."""
        with self._lock:
            if device_id not in self._handed:
                boot, first = self._start(session, device_id)
                self._handed[device_id] = (boot, first, first)
            boot, first, seq = self._handed[device_id]
            self._handed[device_id] = (boot, first, seq + 1)
        return boot, seq

    def issued(self, device: Device, boot: int, seq: int) -> bool:
        """Whether (boot, seq) can be a commit handed out for `device`, here or before."""
        with self._lock:
            mine = self._handed.get(device.id)
        if mine is not None and boot == mine[0]:
            return mine[1] <= seq < mine[2]
        # an earlier or another process's boot: which seqs it handed out is not known here
        return 1 <= boot <= (device.boot or 0) and seq >= 1

    @staticmethod
    def _start(session: Session, device_id: str) -> tuple[int, int]:
        boot = session.exec(
            update(Device)
            .where(Device.id == device_id)
            .values(boot=func.coalesce(Device.boot, 0) + 1)
            .returning(Device.boot)
        ).scalar_one()
        last = session.exec(
            select(func.max(Reading.seq)).where(Reading.device_id == device_id)
        ).one()
        session.commit()
        return boot, (last or 0) + 1
