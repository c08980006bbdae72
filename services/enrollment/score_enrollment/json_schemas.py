"""The partner contract as JSON Schema (2020-12), exported from the marshmallow schemas.

docs/partners/schemas/ holds the files this writes; a test fails when they are stale, so the
published contract is always the one the service enforces. Rules a JSON Schema cannot say
(a team with a manager and a worker, a period in the future, a mobile number's validity) are
in each schema's description and in docs/partners.md.
"""
from __future__ import annotations

import json
from pathlib import Path

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from score_enrollment import contract

DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://score.example.org/schemas/partner/v1/"

EXPORTS = {
    "submission-v1.schema.json": ("Submission", contract.SubmissionSchema),
    "outcome-v1.schema.json": ("Outcome", contract.OutcomeSchema),
}


def _custom_fields(converter, field, **kwargs) -> dict:
    if isinstance(field, contract.RegistrationNumber):
        return {"pattern": r"^[0-9 .\-/]+$", "description":
                f"NIB (Nomor Induk Berusaha): {contract.NIB_DIGITS} digits; spaces, dots and "
                "dashes are ignored."}
    if isinstance(field, contract.IndonesianMobile):
        return {"description": "An Indonesian mobile number (+62 8..., 08..., spaces and "
                               "dashes allowed); answered and stored in E.164."}
    if isinstance(field, contract.ProvinceCode):
        return {"enum": sorted(contract.PROVINCES), "description":
                "ISO 3166-2:ID code of the province."}
    return {}


def _name_nested(schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__.removesuffix("Schema")


def build() -> dict[str, dict]:
    plugin = MarshmallowPlugin(schema_name_resolver=_name_nested)
    spec = APISpec("SCORE partner contract", "1", "3.1.0", plugins=[plugin])
    plugin.converter.add_attribute_function(_custom_fields)
    for name, schema in EXPORTS.values():
        spec.components.schema(name, schema=schema)
    components = json.loads(json.dumps(spec.to_dict()["components"]["schemas"]).replace(
        "#/components/schemas/", "#/$defs/"))
    documents = {}
    for filename, (name, schema) in EXPORTS.items():
        documents[filename] = {
            "$schema": DIALECT,
            "$id": BASE_ID + filename,
            "title": f"SCORE partner {name.lower()}, version 1",
            "description": " ".join((schema.__doc__ or "").split()),
            "$ref": f"#/$defs/{name}",
            "$defs": components,
        }
    return documents


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, document in build().items():
        path = directory / filename
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
