"""Shelter Signal dial on an ESP32: MicroPython runs this file at every start.

It picks which copy of the dial's code to run, then runs it (board/start.py). The copy
flashed by `shelter-signal device flash` sits at the flash's root; an update over the air
(dialcore/update.py) downloads a whole new copy of board/ and dialcore/ into a folder of
its own, checks every file's SHA-256, and then points slot.json at it for a trial: the one
write that switches versions (temporary file, then rename), so a power cut leaves the old
or the new choice, never half of one.

On trial this file counts the starts. It goes back to the previous copy when the new one
cannot even be imported, or has started TRIAL_STARTS times without the new code confirming
that it works (connected, and a commit acknowledged: dialcore/update.py). It imports none
of the dial's code before the choice (that would pin the old copy in sys.modules), and an
update never replaces it.
"""

import json
import os
import sys

import machine

SLOT_PATH = "slot.json"  # relative to the working directory, the flash's root on the ESP32
RESETS_PATH = "resets.json"  # board/start.py's: the crash series dialcore/resets.py keeps
# A new version that crashes at every start is back on the old one after this many starts
# (a crash restarts the board within seconds); three, as safe mode counts a crash loop.
TRIAL_STARTS = 3


def read_slot():
    try:
        with open(SLOT_PATH) as f:
            slot = json.load(f)
    except (OSError, ValueError):  # no update yet, or a damaged file: the flashed code
        return {}
    return slot if isinstance(slot, dict) else {}


def write_slot(slot):
    with open(SLOT_PATH + ".tmp", "w") as f:
        json.dump(slot, f)
    try:
        os.rename(SLOT_PATH + ".tmp", SLOT_PATH)  # littlefs and POSIX replace atomically
    except OSError:  # FAT refuses to rename over an existing file
        os.remove(SLOT_PATH)
        os.rename(SLOT_PATH + ".tmp", SLOT_PATH)


def roll_back(slot, why):
    """Back to the copy that ran before the trial; the new version is not tried again. The
    crashes on trial were the new version's: the old one starts afresh, not in safe mode for
    them, and the last one's reason goes with the rollback's."""
    try:
        with open(RESETS_PATH) as f:
            last = json.load(f).get("why")
        if last:
            why += " (last crash: " + last + ")"
    except (OSError, ValueError, AttributeError):  # none, or a damaged file
        pass
    try:
        os.remove(RESETS_PATH)
    except OSError:
        pass
    print("update: back to the previous version:", why)
    write_slot({"active": slot.get("previous"), "rolled_back": slot.get("version"), "why": why})


slot = read_slot()
if slot.get("trial"):
    slot["starts"] = slot.get("starts", 0) + 1
    if slot["starts"] > TRIAL_STARTS:
        roll_back(slot, "not confirmed in " + str(TRIAL_STARTS) + " starts")
        slot = read_slot()
    else:
        write_slot(slot)
if slot.get("active"):
    sys.path.insert(0, slot["active"])
try:
    from board import start
except Exception as e:  # ImportError, SyntaxError, whatever the new code raised on import
    if not slot.get("trial"):
        raise
    sys.print_exception(e)
    roll_back(slot, "import failed: " + repr(e)[:60])
    machine.reset()
start.run()
