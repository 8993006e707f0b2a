"""Every deadline in the tests goes through one factor, SIGNAL_TEST_WAIT_SCALE
(tests/support/waiting.py): a wait given a bare number of seconds fails this test, unless
the function it calls scales its own `timeout` (SCALES_ITSELF)."""

import ast
from pathlib import Path

from tests.support.waiting import SCALE, scaled, wait_until

TESTS = Path(__file__).resolve().parents[1]
# Helpers that take a deadline written for a quiet machine and scale it themselves
SCALES_ITSELF = {
    "wait_until",  # tests/support/waiting.py
    "wait_for_port",  # tests/support/services.py, like _end
    "_end",
    "settle",  # tests/support/broker_checks.py
    "run_micropython",  # tests/support/micropython.py
    "until",  # tests/firmware/dialcore/test_app.py
    "wait_state",  # tests/firmware/test_update.py
}
# Calls whose first (wait_for: second) positional argument is a deadline in seconds
POSITIONAL = {"wait": 0, "join": 0, "wait_for": 1}


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _literal(node: ast.expr) -> bool:
    """A number written in the test, not one that went through scaled()."""
    if isinstance(node, ast.BinOp):
        return _literal(node.left) and _literal(node.right)
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float)


def unscaled_waits(source: str) -> list[int]:
    """The lines of `source` where a wait gets a bare number of seconds."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or _name(node.func) in SCALES_ITSELF:
            continue
        deadlines = [k.value for k in node.keywords if k.arg == "timeout"]
        position = POSITIONAL.get(_name(node.func))
        if position is not None and len(node.args) > position:
            deadlines.append(node.args[position])
        if any(_literal(d) for d in deadlines):
            found.append(node.lineno)
    return found


def test_every_wait_in_the_tests_is_scaled():
    found = {
        str(path.relative_to(TESTS)): lines
        for path in sorted(TESTS.rglob("*.py"))
        if (lines := unscaled_waits(path.read_text()))
    }
    assert found == {}


def test_the_check_finds_a_bare_deadline_and_lets_a_scaled_one_pass():
    assert unscaled_waits("q.get(timeout=10)\nevent.wait(2 * 5)\nasyncio.wait_for(t, 5)") == [
        1,
        2,
        3,
    ]
    assert unscaled_waits("q.get(timeout=scaled(10))\nwait_until(check, timeout=20)") == []


def test_scaled_stretches_every_deadline_by_the_factor():
    assert scaled(10) == 10 * SCALE
    assert wait_until(lambda: "done", timeout=0) == "done"
