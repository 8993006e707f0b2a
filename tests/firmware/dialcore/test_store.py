"""The store: what the dial must not forget survives reboots, power cuts and bad files."""

import json
import os

from firmware.dialcore import store as store_module
from firmware.dialcore.store import Store


def files(directory):
    return sorted(p.name for p in directory.iterdir())


def test_saved_state_loads_back(tmp_path):
    path = str(tmp_path / "state.json")
    saved = Store(path)
    saved.boot, saved.seq, saved.counts, saved.acked_seq = 4, 17, [12, 3], 16
    saved.pending = {"boot": 4, "seq": 17, "ts": 1767225600, "counts": [12, 3]}
    saved.config = {
        "version": 2,
        "shelter": "Maple House",
        "mode": "free",
        "channels": [("Men", 40), ("Youth", 8)],
    }
    saved.save()

    loaded = Store(path).load()
    assert (loaded.boot, loaded.seq, loaded.counts, loaded.acked_seq) == (4, 17, [12, 3], 16)
    assert loaded.pending == saved.pending
    assert loaded.config == saved.config  # channels come back as (label, capacity) tuples


def test_first_boot_starts_empty(tmp_path):
    loaded = Store(str(tmp_path / "state.json")).load()
    assert (loaded.boot, loaded.seq, loaded.counts, loaded.pending) == (0, 0, [], None)
    assert loaded.acked_seq is None and loaded.config is None
    assert files(tmp_path) == []  # loading writes nothing


def test_a_save_leaves_only_the_state_file(tmp_path):
    store = Store(str(tmp_path / "state.json"))
    for seq in (1, 2):  # the second save renames over an existing file
        store.seq = seq
        store.save()
        assert files(tmp_path) == ["state.json"]
    assert json.loads((tmp_path / "state.json").read_text())["seq"] == 2


def test_a_save_works_where_rename_cannot_replace_a_file(tmp_path, monkeypatch):
    """FAT refuses to rename over an existing file: the store removes the old one first."""
    real_rename = os.rename

    def fat_rename(src, dst):
        if os.path.exists(dst):
            raise OSError(17, "EEXIST")
        real_rename(src, dst)

    monkeypatch.setattr(store_module.os, "rename", fat_rename)
    store = Store(str(tmp_path / "state.json"))
    store.seq = 1
    store.save()
    store.seq = 2
    store.save()
    assert files(tmp_path) == ["state.json"]
    assert Store(store.path).load().seq == 2


def test_a_corrupt_file_is_moved_aside_and_the_store_starts_empty(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"boot": 3, "seq": 1')  # cut off mid-write
    store = Store(str(path)).load()
    assert (store.boot, store.seq, store.counts, store.pending) == (0, 0, [], None)
    assert files(tmp_path) == ["state.json.corrupt"]
    assert (tmp_path / "state.json.corrupt").read_text() == '{"boot": 3, "seq": 1'

    assert store.start_boot() == 1  # and keeps working
    store.seq, store.counts = 1, [5]
    store.save()
    again = Store(str(path)).load()
    assert (again.boot, again.seq, again.counts) == (1, 1, [5])
    assert files(tmp_path) == ["state.json", "state.json.boot", "state.json.corrupt"]


def test_the_boot_counter_survives_a_corrupt_state_file(tmp_path):
    """Commits after the loss are numbered above every (boot, seq) the server has seen."""
    path = tmp_path / "state.json"
    store = Store(str(path)).load()
    for _ in range(4):
        store.start_boot()
    path.write_text("garbage")
    recovered = Store(str(path)).load()
    assert (recovered.boot, recovered.seq) == (4, 0)
    assert recovered.start_boot() == 5


def test_a_file_of_bad_bytes_counts_as_corrupt(tmp_path):
    path = tmp_path / "state.json"
    path.write_bytes(b'\xff\xfe{"boot": 3}')
    assert Store(str(path)).load().boot == 0
    assert files(tmp_path) == ["state.json.corrupt"]


def test_a_leftover_temp_file_is_loaded_when_the_state_file_is_gone(tmp_path):
    """Power cut on FAT between removing the old file and renaming the new one."""
    written = Store(str(tmp_path / "written.json"))
    written.boot, written.seq, written.counts = 2, 9, [7]
    written.pending = {"boot": 2, "seq": 9, "ts": None, "counts": [7]}
    written.save()
    (tmp_path / "written.json").rename(tmp_path / "state.json.tmp")

    store = Store(str(tmp_path / "state.json")).load()
    assert (store.boot, store.seq, store.counts) == (2, 9, [7])
    assert store.pending == written.pending
    store.start_boot()
    assert files(tmp_path) == ["state.json", "state.json.boot"]
    assert Store(store.path).load().boot == 3


def test_a_half_written_temp_file_without_a_state_file_does_not_stop_the_boot(tmp_path):
    (tmp_path / "state.json.tmp").write_text('{"boot": ')
    store = Store(str(tmp_path / "state.json")).load()
    assert store.boot == 0


def test_start_boot_counts_up_and_persists(tmp_path):
    path = str(tmp_path / "state.json")
    assert Store(path).load().start_boot() == 1
    assert Store(path).load().boot == 1
    store = Store(path).load()
    assert store.start_boot() == 2
    assert store.boot == 2
    assert json.loads((tmp_path / "state.json").read_text())["boot"] == 2
