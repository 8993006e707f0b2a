"""The whole firmware in the ESP32's heap: `micropython -X heapsize=N` on the virtual dial.

firmware/main.py, mqtt_as and ssd1306 run unmodified (tests/support/virtual_dial.py), all
but main.py compiled by mpy-cross, as `device flash` installs them (from source they need
344 KiB here: the compiler's own allocations). The heap is the ESP32's without PSRAM, scaled
for the 64-bit port (ESP32_HEAP), plus what the stand-ins take that a board has in ROM. A
run must connect over TLS, get its config, save a turn and send telemetry without a
MemoryError or a restart. Method and numbers: docs/benchmarks.md, "Firmware heap on
MicroPython"; `python -m bench.firmware_heap` bisects the smallest heap (154 KiB measured,
against this test's 157.7 KiB).
"""

from tests.firmware.test_main import STALL_MS
from tests.support.virtual_dial import ESP32_HEAP, STANDINS_HEAP
from tests.support.waiting import wait_until


def test_the_flashed_firmware_runs_in_the_esp32_heap(world):
    device = "desk-esp32"
    flash = world.provision(device, telemetry_s=10)
    assert [p.relative_to(flash).as_posix() for p in flash.rglob("*.py")] == ["main.py"]
    with world.dial(flash, heapsize=ESP32_HEAP + STANDINS_HEAP).power_on() as dial:

        def step(done) -> bool:
            assert not dial.logged("MemoryError", ever=True), dial.tail()
            assert len(dial.starts) == 1, dial.tail()
            return done()

        wait_until(lambda: step(lambda: dial.screen.shows("of 20")), 60, message=dial.tail)
        dial.turn(3)
        wait_until(lambda: step(lambda: getattr(world.current(device), "occupied", 0) == 3), 30)
        wait_until(lambda: step(lambda: world.device(device).free_heap is not None), 30)
        step(lambda: True)
        print(f"\n{device}: most in use at a poll {max(dial.heap)} B")
        assert max(dial.stalls) < STALL_MS
