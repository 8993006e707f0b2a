"""Downloading an ordered version's files over the broker link (dialcore/update.py).

Each file comes in chunks (`fetch` out, `chunk` back) into the version's staging folder,
hashed as it is written; a file already there with the right size and hash is kept, so a
power cut or a lost link costs one file at most.

update.py imports this only when the server orders another version, so that a counting
dial does not hold the code: 1.7 KB less heap (.mpy on the Unix port), which is tight on
an ESP32 (docs/benchmarks.md, "Firmware heap on MicroPython").
"""

import asyncio
import binascii
import hashlib
import os

from . import protocol
from .update import folder_for, remove_tree

FETCH_TRIES = 5  # a chunk not answered in CHUNK_WAIT_S this many times: the link is bad
CHUNK_WAIT_S = 10  # the server answers in milliseconds; this covers a reconnect


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(1024)
            if not block:
                break
            h.update(block)
    return binascii.hexlify(h.digest()).decode()


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return None


def _mkdir(path):
    try:
        os.mkdir(path)
    except OSError:  # there already
        pass


class Download:
    def __init__(self, device_id, transport, order):
        self.device_id = device_id
        self.transport = transport
        self.order = order  # {"version", "files"}
        self._arrived = asyncio.Event()
        self._want = None  # (version, path, offset) of the chunk awaited
        self._data = None

    def on_chunk(self, chunk):
        if (chunk["version"], chunk["path"], chunk["offset"]) == self._want:
            self._data = chunk["data"]
            self._arrived.set()

    async def stage(self):
        """Download every file into the version's staging folder; its name when all check out."""
        version = self.order["version"]
        staging = folder_for(version) + ".new"
        _mkdir(staging)
        for package in ("board", "dialcore"):
            _mkdir(staging + "/" + package)
        for path, size, digest in self.order["files"]:
            await self._file(version, path, size, digest, staging + "/" + path)
        return staging

    async def _file(self, version, path, size, digest, target):
        if _size(target) == size and _sha256(target) == digest:
            return  # from before a power cut or a lost link
        part = target + ".part"
        h = hashlib.sha256()
        done = 0
        with open(part, "wb") as f:
            while done < size:
                data = await self._fetch(version, path, done)
                if not data:
                    raise ValueError(path + ": the server's copy is shorter than its size")
                f.write(data)
                h.update(data)
                done += len(data)
        if done != size or binascii.hexlify(h.digest()).decode() != digest:
            remove_tree(part)
            raise ValueError(path + ": SHA-256 does not match: download corrupted")
        try:
            os.remove(target)
        except OSError:
            pass
        os.rename(part, target)

    async def _fetch(self, version, path, offset):
        self._want = (version, path, offset)
        topic = protocol.topic(self.device_id, "fetch")
        for _ in range(FETCH_TRIES):
            self._arrived.clear()
            try:
                await self.transport.publish(
                    topic, protocol.encode_fetch(version, path, offset), False, 1
                )
                await asyncio.wait_for(self._arrived.wait(), CHUNK_WAIT_S)
            except (OSError, asyncio.TimeoutError):  # noqa: UP041  MicroPython's is not builtin
                continue
            return self._data
        raise OSError("no chunk of " + path + " at " + str(offset))
