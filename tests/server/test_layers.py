"""The layers below the API (queries, history, exports, imports, ingest, text messages...)
never import from server/api/: what they share with it lives below both (server/shapes.py,
server/models.py). Only the runner, which starts the API, is above it."""

import ast
from pathlib import Path

SERVER = Path(__file__).parents[2] / "server"
ABOVE_THE_API = {"runner.py"}


def test_nothing_below_the_api_imports_from_it():
    offenders = []
    for path in sorted(SERVER.rglob("*.py")):
        relative = path.relative_to(SERVER)
        if relative.parts[0] == "api" or str(relative) in ABOVE_THE_API:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            offenders += [f"{relative}: {n}" for n in names if n.startswith("server.api")]
    assert offenders == []
