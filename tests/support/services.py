"""Real services for the test suite, started on loopback (127.0.0.1) on free ports.

Nothing here is mocked: tests talk to the real ``mosquitto`` broker, a real throwaway
PostgreSQL cluster and Debian's real Chromium. Each service lives in its own temporary
directory and is removed again by ``stop()``.

If a binary is missing we raise ``ServiceError`` naming the Debian package to install.
The fixtures let that error through, so tests FAIL (not skip) on a machine that lacks a
real part: a green run must mean everything was really tested.

Usage::

    with Mosquitto() as broker:
        print(broker.url)  # mqtt://127.0.0.1:<port>

    with Postgres() as pg:
        print(pg.url)  # postgresql+psycopg://postgres@127.0.0.1:<port>/shelter_signal
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.waiting import scaled

LOOPBACK = "127.0.0.1"


class ServiceError(RuntimeError):
    """A real service could not be found or started."""


# --------------------------------------------------------------------------- helpers


def _end(process: subprocess.Popen | None, how: signal.Signals, timeout: float) -> None:
    """Send `how` to a running `process` and wait for it; kill it if it takes longer than
    `scaled(timeout)`."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(how)
    try:
        process.wait(timeout=scaled(timeout))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now.

    The OS picks it (bind to port 0). There is a tiny race: another process could take
    the port before our service binds it. On a test machine that is rare enough to ignore.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_for_port(
    host: str,
    port: int,
    timeout: float = 10.0,
    *,
    process: subprocess.Popen | None = None,
) -> None:
    """Block until something accepts TCP connections on host:port, for `scaled(timeout)`.

    If ``process`` is given and exits while we wait, fail at once instead of waiting for
    the whole timeout (the service crashed; its log says why).
    """
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise ServiceError(f"process exited with code {process.returncode} before {port=}")
        try:
            with socket.create_connection((host, port), timeout=scaled(0.5)):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise ServiceError(f"nothing listening on {host}:{port} after {timeout}s") from None
            time.sleep(0.02)


def _find_binary(name: str, package: str, extra_dirs: tuple[str, ...] = ()) -> str:
    """Find an executable on PATH or in extra_dirs, or raise a helpful error."""
    # Debian puts mosquitto in /usr/sbin, which is not on PATH for every user.
    search_path = os.pathsep.join([os.environ.get("PATH", ""), *extra_dirs])
    found = shutil.which(name, path=search_path)
    if found is None:
        raise ServiceError(
            f"'{name}' not found. Install it with: apt-get install -y {package}"
            " (tests need the real service, they do not skip without it)"
        )
    return found


def _read_tail(path: Path, limit: int = 3000) -> str:
    """The end of a log file, for error messages."""
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------- MQTT broker


class Mosquitto:
    """A real mosquitto broker on 127.0.0.1:<free port> with on-disk persistence.

    ``restart()`` keeps the port and the persistence file, so retained messages and
    QoS 1 sessions survive it, just like a real broker reboot. ``extra`` lines are added to
    its configuration, e.g. ``("max_queued_messages 1000000",)`` as production runs it.
    """

    def __init__(self, extra: tuple[str, ...] = ()) -> None:
        self.binary = _find_binary("mosquitto", "mosquitto", ("/usr/sbin", "/usr/local/sbin"))
        self.host = LOOPBACK
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="signal-mosquitto-"))
        self.config_path = self.dir / "mosquitto.conf"
        self.log_path = self.dir / "mosquitto.log"
        self._process: subprocess.Popen | None = None
        self._write_config(extra)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _settings(self) -> list[str]:
        """What this broker is: listeners, access, persistence (a subclass swaps them)."""
        return [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            # Persistence: mosquitto.db is written on clean shutdown (SIGTERM), and
            # reloaded on start, so restart() keeps retained messages and sessions.
            "persistence true",
        ]

    def _write_config(self, extra: tuple[str, ...]) -> None:
        lines = [
            *self._settings(),
            # Where this broker's files go: its own temp dir.
            f"persistence_location {self.dir}/",
            # Logs go to stderr, which we send to mosquitto.log (see start()).
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if os.geteuid() == 0:
            # As root, mosquitto drops privileges to the 'mosquitto' user (or 'nobody'
            # if that user is missing), which could not write mosquitto.db into our
            # root-owned temp dir. "user root" tells it to keep running as root. That is
            # fine for a throwaway broker on loopback, and avoids chown-ing to an account
            # that may not exist. (As a normal user this setting has no effect.)
            lines.append("user root")
        lines.extend(extra)
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self) -> Mosquitto:
        if self._process is not None:
            return self
        # Opened by us, so the broker can write its log whatever user it runs as.
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "-c", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            wait_for_port(self.host, self.port, timeout=10, process=self._process)
        except ServiceError as exc:
            self.stop()
            log = _read_tail(self.log_path)
            raise ServiceError(f"mosquitto did not start: {exc}\n{log}") from None
        return self

    def pid(self) -> int:
        """The broker's process id (what the benchmarks measure its CPU time by)."""
        return self._process.pid

    def stop(self) -> None:
        """SIGTERM (which makes mosquitto save its persistence file) and wait."""
        process, self._process = self._process, None
        _end(process, signal.SIGTERM, timeout=10)

    def crash(self) -> None:
        """SIGKILL, as a power cut: what the broker held in memory since it last saved its
        persistence file (``autosave_interval``) is gone."""
        process, self._process = self._process, None
        _end(process, signal.SIGKILL, timeout=10)

    def restart(self) -> Mosquitto:
        """Stop and start again on the same port with the same persistence file."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the broker and delete its temp dir (config, log, persistence)."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Mosquitto:
        try:
            return self.start()
        except BaseException:
            self.close()  # don't leave the temp dir behind
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --------------------------------------------------------------------------- PostgreSQL


def _postgres_bin_dir() -> Path:
    """The directory holding initdb/pg_ctl: newest /usr/lib/postgresql/<N>/bin, else PATH."""
    # Debian keeps the server binaries out of PATH, one directory per major version.
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb")

    def major_version(path: str) -> float:
        try:
            return float(Path(path).parent.parent.name)
        except ValueError:
            return 0.0

    if candidates:
        return Path(max(candidates, key=major_version)).parent
    return Path(_find_binary("initdb", "postgresql")).parent


class Postgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1:<free port>, trust auth, fsync off.

    ``url`` is for SQLAlchemy/SQLModel; ``libpq_url`` is for psycopg or psql.
    ``new_database(name)`` makes another empty database, for tests that need isolation.
    ``durable=True`` keeps synchronous commits, so a commit survives ``restart()`` (a crash
    of the server process); the fast default may lose the last commits of a crash.
    """

    user = "postgres"  # the cluster's superuser (initdb -U)
    wait = ("-w", "-t", str(round(scaled(60))))  # pg_ctl waits until the server is up

    def __init__(self, database: str = "shelter_signal", durable: bool = False) -> None:
        self.bin_dir = _postgres_bin_dir()
        for tool in ("initdb", "pg_ctl", "createdb"):
            if not (self.bin_dir / tool).exists():
                raise ServiceError(f"{tool} missing in {self.bin_dir}: apt-get install postgresql")
        self._run_as: list[str] = []  # command prefix for initdb/pg_ctl
        if os.geteuid() == 0:
            # initdb and postgres refuse to run as root. Run them as the 'postgres'
            # system account that Debian's package creates (via runuser, which needs no
            # password when called by root). Clients such as createdb and psycopg may
            # run as root; only the server cares.
            if shutil.which("runuser") is None:
                raise ServiceError("running as root needs 'runuser' (Debian package util-linux)")
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise ServiceError(
                    "running as root needs the 'postgres' system user: apt-get install postgresql"
                ) from None
            self._run_as = ["runuser", "-u", "postgres", "--"]

        self.host = LOOPBACK
        self.port = free_port()
        self.database = database
        self.dir = Path(tempfile.mkdtemp(prefix="signal-postgres-"))
        self.data_dir = self.dir / "data"
        self.log_path = self.dir / "postgres.log"
        self.durable = durable
        self._started = False
        if self._run_as:
            # The server writes its data, log and socket here, so 'postgres' must own it.
            shutil.chown(self.dir, user="postgres", group="postgres")

    @property
    def url(self) -> str:
        return self.url_for(self.database)

    @property
    def libpq_url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) for a database in this cluster."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def _run(self, tool: str, *args: str, as_server_user: bool = True) -> None:
        """Run a PostgreSQL tool; raise ServiceError with its output if it fails."""
        prefix = self._run_as if as_server_user else []
        command = [*prefix, str(self.bin_dir / tool), *args]
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            # Run from our temp dir: as 'postgres', the caller's cwd may be unreadable.
            cwd=self.dir,
            timeout=scaled(60),
        )
        if result.returncode != 0:
            raise ServiceError(
                f"{' '.join(command)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n{_read_tail(self.log_path)}"
            )

    def start(self) -> Postgres:
        if self._started:
            return self
        if not self.data_dir.exists():
            self._run(
                "initdb",
                "--pgdata",
                str(self.data_dir),
                "--username",
                self.user,
                "--auth",
                "trust",  # no passwords: only tests on loopback reach this cluster
                "--encoding",
                "UTF8",
                "--locale",
                "C",  # always present, even on minimal machines without locales
                "--no-sync",  # don't fsync the new cluster: it is thrown away anyway
            )
            # Settings are appended to postgresql.conf (the last value wins), which
            # avoids quoting trouble with pg_ctl -o.
            settings = {
                "listen_addresses": f"'{self.host}'",
                "port": str(self.port),
                # The unix socket goes to our temp dir, not /var/run/postgresql, which
                # may not exist or may belong to a system cluster.
                "unix_socket_directories": f"'{self.dir}'",
                # Speed over durability: a crash just means a failed test run. fsync only
                # matters when the machine (not the server process) goes down, so even a
                # durable cluster leaves it off.
                "fsync": "off",
                "full_page_writes": "off",
                # Off: a commit returns before its WAL is written, so a crash can undo it.
                "synchronous_commit": "on" if self.durable else "off",
            }
            with open(self.data_dir / "postgresql.conf", "a") as conf:
                conf.write("\n# Added by tests/support/services.py\n")
                conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        # -l is the server's log file.
        self._run("pg_ctl", "start", *self.wait, "-D", str(self.data_dir), "-l", str(self.log_path))
        self._started = True
        self.new_database(self.database)
        return self

    def restart(self) -> Postgres:
        """Crash and start again: every connection breaks, the server recovers from its WAL.

        "immediate" is what a killed server looks like to its clients (no orderly goodbye).
        """
        self._run(
            "pg_ctl", "restart", *self.wait, "-m", "immediate",
            "-D", str(self.data_dir), "-l", str(self.log_path),
        )  # fmt: skip
        return self

    def new_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        self._run(
            "createdb",
            *("--host", self.host, "--port", str(self.port), "--username", self.user),
            name,
            as_server_user=False,
        )
        return self.url_for(name)

    def stop(self) -> None:
        """Stop the server and delete the whole cluster."""
        if self._started:
            self._started = False
            # "immediate" skips the shutdown checkpoint: nothing needs to survive.
            # If stopping fails, still delete the files: a server whose postmaster.pid
            # vanishes shuts itself down within about a minute.
            with contextlib.suppress(ServiceError, subprocess.TimeoutExpired):
                self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.data_dir))
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Postgres:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- ingestor


class IngestorProcess:
    """`shelter-signal ingest` as a process of its own, which a test can kill -9 and restart.

    Every start uses the same client id, so the broker keeps its session (and its queue of
    unacknowledged messages) across a kill, as it does for a production ingestor. Its log is
    ``log_path`` in ``workdir``, which is also its working directory (so no developer's
    ``.env`` file changes its settings).
    """

    def __init__(
        self,
        database_url: str,
        mqtt_url: str,
        client_id: str,
        workdir: Path,
        shared_group: str | None = None,
    ) -> None:
        self.client_id = client_id
        self.workdir = workdir
        self.log_path = workdir / f"{client_id}.log"
        self.env = {
            **os.environ,
            "SIGNAL_DATABASE_URL": database_url,
            "SIGNAL_MQTT_URL": mqtt_url,
            "SIGNAL_INGEST_CLIENT_ID": client_id,
        }
        if shared_group:
            self.env["SIGNAL_INGEST_SHARED_GROUP"] = shared_group
        self._process: subprocess.Popen | None = None

    def start(self) -> IngestorProcess:
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "server", "ingest"],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no chance to finish a batch, disconnect or acknowledge anything."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM: the orderly shutdown a service manager asks for."""
        self._end(signal.SIGTERM)

    def _end(self, how: signal.Signals) -> None:
        process, self._process = self._process, None
        _end(process, how, timeout=15)  # a batch in progress may take a moment to finish


# --------------------------------------------------------------------------- Chromium


def chromium_launch_options() -> dict:
    """Keyword arguments for Playwright's ``chromium.launch(**options)``.

    Uses Debian's Chromium (``SIGNAL_CHROMIUM`` overrides the path), since Playwright's
    own browser downloads are not available here.
    """
    executable = os.environ.get("SIGNAL_CHROMIUM", "/usr/bin/chromium")
    if not os.access(executable, os.X_OK):
        raise ServiceError(
            f"Chromium not found at {executable}. Install it with: apt-get install -y chromium"
            " (or point SIGNAL_CHROMIUM at a Chromium binary)"
        )
    return {
        "executable_path": executable,
        "headless": True,
        "args": [
            "--no-sandbox",  # the sandbox cannot start as root / in containers
            "--disable-gpu",  # no GPU on test machines
            "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
            # The network here is closed: stop Chromium from phoning home (updates,
            # sync, QUIC probes), which otherwise fails loudly and slows it down.
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }
