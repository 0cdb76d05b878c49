"""The JSON schemas in workflow/schemas/ and checks of config and table rows against them."""

from __future__ import annotations

import copy
import functools
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "workflow" / "schemas"


@functools.cache
def load_schema(name: str) -> dict:
    """Load ``workflow/schemas/<name>.schema.yaml``."""
    path = SCHEMA_DIR / f"{name}.schema.yaml"
    if not path.exists():
        raise FileNotFoundError(
            f"schema {path} not found: oncofactor must run from its source checkout (pip install -e .)"
        )
    with path.open() as handle:
        return yaml.safe_load(handle)


def _with_defaults(validator_class):
    """A validator class that also fills in each property's `default` (as Snakemake's validate does)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


DefaultFillingValidator = _with_defaults(jsonschema.Draft202012Validator)


def validate_with_defaults(instance: dict, schema: dict) -> tuple[dict, list[jsonschema.ValidationError]]:
    """Return a copy of `instance` with defaults filled in and every schema violation, in path order."""
    filled = copy.deepcopy(instance)
    errors = sorted(DefaultFillingValidator(schema).iter_errors(filled), key=lambda e: list(e.absolute_path))
    return filled, errors


NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _coerce(value: str, declared_type: Any) -> Any:
    """Turn the text of a numeric cell into a number so the schema can check type and range.

    Only plain decimal notation counts (not Python's '1_000', 'inf' or 'nan'); anything else stays
    text and fails the schema's type check with the value as written.
    """
    types = declared_type if isinstance(declared_type, list) else [declared_type]
    if not ({"integer", "number"} & set(types)) or not NUMBER.match(value):
        return value
    number = float(value)
    if not math.isfinite(number):
        return value
    return int(number) if number.is_integer() else number


def row_problems(row: dict[str, Any], schema: dict) -> tuple[dict, list[tuple[str, str]]]:
    """Check one table row (column -> text or None) against a row schema.

    Returns the row with numbers parsed and defaults filled, and a list of (column, message) for
    every problem, the message built from the column's `errorMessage`.
    """
    properties = schema.get("properties", {})
    present = {}
    for column, value in row.items():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        text = str(value).strip()
        present[column] = _coerce(text, properties.get(column, {}).get("type"))
    filled, errors = validate_with_defaults(present, schema)
    problems = []
    for error in errors:
        if error.validator == "required":
            for column in error.validator_value:
                if column not in present:
                    problems.append((column, "is empty (or NA, which is read as missing); a value is required"))
            continue
        column = error.absolute_path[0] if error.absolute_path else ""
        hint = properties.get(column, {}).get("errorMessage", error.message)
        problems.append((column, f"{present.get(column)!r} {hint}"))
    # A missing required column reports once per row through `required`; de-duplicate repeats.
    return filled, list(dict.fromkeys(problems))
