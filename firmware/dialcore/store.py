"""What the device must not forget across reboots and power cuts, kept in one JSON file.

Every save writes a temporary file and renames it over the old one: on a power cut the
flash holds either the old or the new state, never half of each.
"""

import json
import os


def _read(path):
    with open(path) as f:
        return json.load(f)


class Store:
    def __init__(self, path):
        self.path = path
        self.boot = 0  # boot counter, +1 at every start
        self.seq = 0  # last commit's sequence number
        self.counts = []  # last committed count per channel
        self.pending = None  # newest unacknowledged commit: {"boot", "seq", "ts", "counts"}
        self.acked_seq = None  # last sequence number the server confirmed
        self.config = None  # last applied server config (see protocol.decode_config)

    def load(self):
        try:
            data = _read(self.path)
        except OSError:
            try:  # power cut on a FAT filesystem between remove and rename (see save)
                data = _read(self.path + ".tmp")
            except OSError:  # first boot: nothing saved yet
                return self
        except ValueError:  # corrupt file: keep the counters moving forward from a safe place
            os.rename(self.path, self.path + ".corrupt")
            return self
        self.boot = data.get("boot", 0)
        self.seq = data.get("seq", 0)
        self.counts = data.get("counts", [])
        self.pending = data.get("pending")
        self.acked_seq = data.get("acked_seq")
        config = data.get("config")
        if config:
            config["channels"] = [tuple(ch) for ch in config["channels"]]
        self.config = config
        return self

    def save(self):
        data = {
            "boot": self.boot,
            "seq": self.seq,
            "counts": self.counts,
            "pending": self.pending,
            "acked_seq": self.acked_seq,
            "config": self.config,
        }
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        try:
            os.rename(tmp, self.path)  # littlefs (the ESP32 default) and POSIX replace atomically
        except OSError:  # FAT refuses to rename over an existing file
            os.remove(self.path)
            os.rename(tmp, self.path)

    def start_boot(self):
        self.boot += 1
        self.save()
        return self.boot
