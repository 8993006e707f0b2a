"""docs/operations.md and deploy/ cannot drift apart: every file is documented, every file
and unit the walk-through names exists."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
GUIDE = (REPO / "docs" / "operations.md").read_text()


def test_every_deploy_file_is_in_the_guide():
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            name = str(path.relative_to(REPO))
            assert name in GUIDE or path.name in GUIDE, f"{name} is not in docs/operations.md"


def test_every_checkout_path_the_guide_uses_exists():
    paths = set(re.findall(r"/opt/shelter-signal/src/([\w./@*-]+)", GUIDE))
    assert paths
    for path in paths:
        if "*" not in path:
            assert (REPO / path).exists(), path
    for pattern in (p for p in paths if "*" in p):  # cp .../shelter-signal-* copies units
        assert list(REPO.glob(pattern)), pattern


# A unit: with an instance (`@8001`, `@*`) or a type suffix, unlike the client ids.
TYPE = r"\.(?:service|timer|path)"
UNIT = re.compile(rf"shelter-signal-[a-z-]+(?:@[\w*]*(?:{TYPE})?|{TYPE})")


def test_every_unit_the_guide_names_exists():
    units = {p.name for p in (DEPLOY / "systemd").iterdir() if p.is_file()}
    stems = {unit.rsplit(".", 1)[0] for unit in units}
    named = set(UNIT.findall(GUIDE))
    assert named
    for name in named:
        base = re.sub(r"@[\w*]*", "@", name)
        assert base in units or base in stems, f"docs/operations.md names {name}"
