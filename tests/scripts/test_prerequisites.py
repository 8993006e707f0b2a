"""scripts/prerequisites, run for real on this machine, without installing anything.

The test machine has every prerequisite (the rest of the suite needs them), so the script
must find them all and stay silent. To see what it does when programs are missing, it runs
with a PATH of only the few tools it calls itself: everything the tests need that lives on
PATH is then missing (the servers Debian keeps off PATH, such as /usr/sbin/mosquitto, are
still found, as the tests find them). apt-get, service, sudo and uname are stand-ins that
write down how they were called: a test must never install packages or stop services on
the machine it runs on.
"""

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.waiting import scaled

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "prerequisites"
# The programs the script itself calls, linked into the bare PATH.
TOOLS = ("uname", "grep", "id", "env", "dpkg-query")
# Tests need these, and Debian keeps them on PATH (/usr/bin): with the bare PATH they are
# missing, whatever else this machine has.
ON_PATH = ("mosquitto_pub", "mosquitto_sub", "openscad", "xvfb-run", "xauth", "wrk", "make")


def run(path: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(SCRIPT)],  # POSIX sh, as make and .ci/run call it
        env={"PATH": path, "PYTHON": sys.executable, **env},
        capture_output=True,
        text=True,
        timeout=scaled(60),  # the script itself takes about 0.3 s
    )


def stand_in(folder: Path, name: str, exit_code: int = 0, output: str = "") -> None:
    """A command that prints output, or else appends its arguments to folder/calls, and exits
    with exit_code."""
    script = folder / name
    script.unlink(missing_ok=True)  # a link to the real tool: writing would overwrite it
    does = f'printf "{output}"' if output else f'echo "{name} $*" >> "{folder}/calls"'
    script.write_text(f"#!/bin/sh\n{does}\nexit {exit_code}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def calls(folder: Path) -> list[str]:
    log = folder / "calls"
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    """A folder holding only the tools the script calls, to use as the whole PATH."""
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, f"{tool} not found on this machine"
        os.symlink(found, tmp_path / tool)
    return tmp_path


def test_everything_present_does_nothing_and_says_nothing(tmp_path):
    stand_in(tmp_path, "apt-get", exit_code=1)
    done = run(f"{tmp_path}{os.pathsep}{os.environ['PATH']}", NO_INSTALL="1")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert calls(tmp_path) == []


def test_no_install_lists_what_is_missing_with_the_apt_command_and_fails(bare):
    stand_in(bare, "apt-get", exit_code=1)
    done = run(str(bare), NO_INSTALL="1")
    assert done.returncode == 1
    assert "NO_INSTALL is set so nothing is installed" in done.stderr
    for program in ON_PATH:
        assert f"\n  {program}: " in done.stderr
    command = next(line for line in done.stderr.splitlines() if line.startswith("Install them"))
    packages = command.removeprefix("Install them with: apt-get install -y ").split()
    assert {"mosquitto-clients", "openscad", "xvfb", "xauth", "wrk", "make"} <= set(packages)
    assert len(packages) == len(set(packages))  # mosquitto_pub and _sub: one package
    assert calls(bare) == []


def test_installs_the_missing_packages_saying_why_in_one_line(bare):
    stand_in(bare, "apt-get")
    stand_in(bare, "service")
    stand_in(bare, "id", output="0")  # root, so apt-get is called without sudo
    done = run(str(bare))
    assert done.returncode == 0, done.stderr
    said = done.stdout.splitlines()
    assert len(said) == 1
    assert said[0].startswith("make test: installing with apt-get what the tests need: ")
    assert "wrk (the load generator of the benchmarks)" in said[0]
    install = calls(bare)[1].split()
    assert calls(bare)[0] == "apt-get update -qq"
    assert install[:5] == ["apt-get", "install", "-y", "-qq", "--no-install-recommends"]
    assert {"mosquitto-clients", "openscad", "wrk"} <= set(install[5:])


def test_the_servers_an_install_may_start_are_stopped_again(bare):
    """With the servers missing too (their folders hidden by empty ones, in a mount
    namespace of the script's own), installing them may start them as services: the
    script stops each, since the tests start their own on free ports."""
    stand_in(bare, "apt-get")
    stand_in(bare, "service")
    stand_in(bare, "id", output="0")
    empty = bare / "empty"
    empty.mkdir()
    hidden = [
        d for d in ("/usr/sbin", "/usr/local/sbin", "/usr/lib/postgresql") if Path(d).is_dir()
    ]
    mount = shutil.which("mount")
    hide = " && ".join(f"{mount} --bind {empty} {folder}" for folder in hidden)
    unshare = [shutil.which("unshare"), "-m"] + ([] if os.geteuid() == 0 else ["-r"])
    done = subprocess.run(
        [*unshare, "/bin/sh", "-c", f'{hide} && exec /bin/sh "$0"', str(SCRIPT)],
        env={"PATH": str(bare), "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )
    assert done.returncode == 0, done.stderr
    install = next(c for c in calls(bare) if c.startswith("apt-get install")).split()
    assert {"mosquitto", "postgresql", "nginx-light"} <= set(install)
    assert [c for c in calls(bare) if c.startswith("service")] == [
        "service mosquitto stop",
        "service postgresql stop",
        "service nginx stop",
    ]


def test_without_root_it_installs_through_sudo(bare):
    stand_in(bare, "apt-get")
    stand_in(bare, "sudo")
    stand_in(bare, "service")
    stand_in(bare, "id", output="1000")
    done = run(str(bare))
    assert done.returncode == 0, done.stderr
    assert calls(bare)[0] == "sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq"
    assert all(line.startswith("sudo ") for line in calls(bare))


def test_without_root_or_sudo_it_fails_with_the_command_for_root(bare):
    stand_in(bare, "apt-get")
    stand_in(bare, "id", output="1000")
    done = run(str(bare))
    assert done.returncode == 1
    assert "installing needs root (no sudo here)" in done.stderr
    assert "\nInstall them with: apt-get install -y " in done.stderr
    assert calls(bare) == []


def test_without_apt_get_it_names_every_missing_program_and_fails(bare):
    stand_in(bare, "uname", output="Darwin")  # macOS: Homebrew's packages
    done = run(str(bare))
    assert done.returncode == 1
    assert "no apt-get here to install them" in done.stderr
    for program in ON_PATH:
        assert f"\n  {program}: " in done.stderr
    assert "Install them with: brew install mosquitto" in done.stderr
    assert "wrk" in done.stderr.split("brew install")[1].split("\n")[0]
    assert "No package known on macOS for: " in done.stderr
    assert "libgl1-mesa-dri" not in done.stderr  # a Debian library, checked with dpkg only
    assert calls(bare) == []


def test_docs_list_what_the_script_checks():
    """docs/testing.md's table is the script's list: program, Debian package, why; the
    README names every Debian package of it."""
    script = SCRIPT.read_text()
    rows = script.split("REQUIREMENTS='")[1].split("'")[0].strip().splitlines()
    listed = []
    for row in rows:
        what, deb, _brew, _dnf, _apk, *why = row.split()
        listed.append((what.removeprefix("deb:"), deb, " ".join(why)))
    text = (ROOT / "docs" / "testing.md").read_text()
    documented = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \| (.+?) \|$", text, re.MULTILINE)
    assert documented == listed
    readme = (ROOT / "README.md").read_text()
    assert "make test NO_INSTALL=1" in readme
    assert [deb for _what, deb, _why in listed if f"`{deb}`" not in readme] == []
