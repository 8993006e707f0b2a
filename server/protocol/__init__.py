"""Server side of the protocol: the JSON Schemas in this folder are the contract.

Topics and payloads are built and parsed by the firmware's own `dialcore.protocol`
(one implementation for device, simulator, web dial and server); this module adds
the full schema check the server applies to everything it receives.
"""

import json
from pathlib import Path

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

SCHEMA_DIR = Path(__file__).parent
SCHEMAS = {
    path.name.removesuffix(".schema.json"): json.loads(path.read_text())
    for path in sorted(SCHEMA_DIR.glob("*.schema.json"))
}
VALIDATORS = {name: Draft202012Validator(schema) for name, schema in SCHEMAS.items()}
# jsonschema walks a state in 150 to 400 us, jsonschema-rs (Rust) in about 1 us: at the
# ingestor's thousands of messages a second that was most of its Python time
# (docs/benchmarks.md). The fast one only lets messages through; what it refuses, jsonschema
# checks again, and its verdict stands (with an error naming the field). The two differ only
# where jsonschema is the laxer: its `pattern`s use Python's re, where `$` also matches
# before a final newline. tests/server/ingest/test_fuzz.py checks that all that is stored is
# valid by jsonschema.
FAST = {name: jsonschema_rs.validator_for(schema) for name, schema in SCHEMAS.items()}


def check(suffix: str, message: dict) -> None:
    """Raise ValueError naming the first offending field when `message` breaks its schema."""
    if FAST[suffix].is_valid(message):
        return
    error = best_match(VALIDATORS[suffix].iter_errors(message))
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        raise ValueError(f"{suffix}{where}: {error.message}")
