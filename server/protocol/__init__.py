"""Server side of the protocol: the JSON Schemas in this folder are the contract.

Topics and payloads are built and parsed by the firmware's own `dialcore.protocol`
(one implementation for device, simulator, web dial and server); this module adds
the full schema check the server applies to everything it receives.
"""

import json
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

SCHEMA_DIR = Path(__file__).parent
VALIDATORS = {
    path.name.removesuffix(".schema.json"): Draft202012Validator(json.loads(path.read_text()))
    for path in sorted(SCHEMA_DIR.glob("*.schema.json"))
}


def check(suffix: str, message: dict) -> None:
    """Raise ValueError naming the first offending field when `message` breaks its schema."""
    error = best_match(VALIDATORS[suffix].iter_errors(message))
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        raise ValueError(f"{suffix}{where}: {error.message}")
