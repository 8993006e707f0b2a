"""What the device must not forget across reboots and power cuts, kept in JSON files.

Every save writes a temporary file and renames it over the old one: on a power cut the
flash holds either the old or the new state, never half of each.
"""

import json
import os


def load_json(path):
    """The object saved at `path`, or None; a damaged file is moved aside to `.corrupt`."""
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError:  # no such file
        return None
    except ValueError:  # half-written or garbled
        data = None
    if isinstance(data, dict):
        return data
    try:
        os.remove(path + ".corrupt")  # keep only the newest damaged copy (FAT won't overwrite)
    except OSError:
        pass
    os.rename(path, path + ".corrupt")
    return None


def write_json(path, data):
    """Write a temporary file, then rename it over `path`: never half old, half new."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    try:
        os.rename(tmp, path)  # littlefs (the ESP32 default) and POSIX replace atomically
    except OSError:  # FAT refuses to rename over an existing file
        os.remove(path)
        os.rename(tmp, path)


class Store:
    def __init__(self, path):
        self.path = path
        self.boot = 0  # boot counter, +1 at every start
        self.seq = 0  # last commit's sequence number
        self.counts = []  # last committed count per channel
        self.pending = None  # newest unacknowledged commit: {"boot", "seq", "ts", "counts"}
        self.acked_seq = None  # last sequence number the server confirmed
        self.config = None  # last applied server config (see protocol.decode_config)
        # People turned away in this boot so far: per channel, {reason: running total}
        # (docs/protocol.md, Turn-aways); a new boot starts again from none
        self.turned = []

    def load(self):
        # A power cut on FAT between remove and rename leaves only the .tmp (see write_json).
        data = load_json(self.path) or load_json(self.path + ".tmp") or {}
        # The boot counter is also kept in a file of its own: if the state file is ever lost,
        # the next boot still numbers its commits above everything the server has seen.
        self.boot = max(data.get("boot", 0), (load_json(self.path + ".boot") or {}).get("boot", 0))
        self.seq = data.get("seq", 0)
        self.counts = data.get("counts", [])
        self.pending = data.get("pending")
        self.acked_seq = data.get("acked_seq")
        self.turned = data.get("turned", [])
        config = data.get("config")
        if config:
            config["channels"] = [tuple(ch) for ch in config["channels"]]
        self.config = config
        return self

    def save(self):
        write_json(
            self.path,
            {
                "boot": self.boot,
                "seq": self.seq,
                "counts": self.counts,
                "pending": self.pending,
                "acked_seq": self.acked_seq,
                "config": self.config,
                "turned": self.turned,
            },
        )

    def start_boot(self):
        self.turned = []  # totals are per boot; a pending commit keeps its own copy
        return self.renumber(self.boot)

    def renumber(self, after):
        """Number this boot after `after`: at every start, and above the server's newest."""
        self.boot = after + 1
        write_json(self.path + ".boot", {"boot": self.boot})
        self.save()
        return self.boot
