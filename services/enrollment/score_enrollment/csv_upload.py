"""CSV bulk upload for partners without a system: one row per team member.

Rows with the same message_id are one submission (one enterprise's team for one module); the
enterprise and module columns are filled on its first row and, if repeated, must agree. Each
submission goes through the same intake as AMQP and HTTP, and the answer comes back per row
with every error named by its CSV column.
"""
from __future__ import annotations

import csv
import io
import json
import re

MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000

SUBMISSION_COLUMNS = {
    # column: path in the submission document
    "module": "module",
    "enterprise_name": "enterprise.name",
    "registration_number": "enterprise.registration_number",
    "sector": "enterprise.sector",
    "province": "enterprise.province",
    "district": "enterprise.district",
    "workforce_women": "enterprise.workforce.women",
    "workforce_men": "enterprise.workforce.men",
    "contact_name": "enterprise.contact.name",
    "contact_email": "enterprise.contact.email",
    "contact_phone": "enterprise.contact.phone",
    "preferred_start": "preferred_period.start",
    "preferred_end": "preferred_period.end",
}
MEMBER_COLUMNS = {
    "member_name": "name",
    "member_role": "role",
    "member_sex": "sex",
    "member_phone": "phone",
    "member_email": "email",
    "member_language": "language",
    "member_consent": "consent_to_reminders",
}
COLUMNS = ["message_id", *SUBMISSION_COLUMNS, *MEMBER_COLUMNS]
REQUIRED_COLUMNS = {"message_id", "member_name", "member_role"}
INTEGER_COLUMNS = {"module", "workforce_women", "workforce_men"}
YES = {"yes", "y", "true", "1", "ya"}
NO = {"no", "n", "false", "0", "tidak"}
_MEMBER_PATH = re.compile(r"^team\[(\d+)\]\.?(.*)$")


class CsvRefused(ValueError):
    """The file as a whole cannot be read; the message says why."""


def _value(column: str, text: str):
    text = text.strip()
    if text == "":
        return None
    if column in INTEGER_COLUMNS:
        return int(text) if re.fullmatch(r"-?\d+", text) else text
    if column == "member_consent":
        lowered = text.lower()
        return True if lowered in YES else False if lowered in NO else text
    return text


def _put(document: dict, path: str, value) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        document = document.setdefault(part, {})
    document[leaf] = value


def parse(data: bytes) -> list[dict]:
    """Group rows into submissions: [{message_id, rows: [row numbers], document, conflicts}]."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvRefused(f"the file is not UTF-8 text (byte {exc.start}); save it as "
                         "CSV UTF-8") from None
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = sorted(REQUIRED_COLUMNS - set(header))
    if missing:
        raise CsvRefused(f"missing column(s): {', '.join(missing)}; the columns are: "
                         + ", ".join(COLUMNS))
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise CsvRefused(f"unknown column(s): {', '.join(unknown)}; the columns are: "
                         + ", ".join(COLUMNS))
    reader.fieldnames = header
    groups: dict[str, dict] = {}
    for line_number, row in enumerate(reader, start=2):  # line 1 is the header
        if line_number - 1 > MAX_ROWS:
            raise CsvRefused(f"more than {MAX_ROWS} rows; split the file")
        if not any((v or "").strip() for v in row.values()):
            continue
        message_id = (row.get("message_id") or "").strip()
        group = groups.setdefault(message_id, {
            "message_id": message_id or None, "rows": [],
            "document": {"schema_version": 1, "team": []}, "seen": {}, "conflicts": {},
            "member_rows": []})
        group["rows"].append(line_number)
        for column, path in SUBMISSION_COLUMNS.items():
            value = _value(column, row.get(column) or "")
            if value is None:
                continue
            first = group["seen"].get(column)
            if first is None:
                group["seen"][column] = (line_number, value)
                _put(group["document"], path, value)
            elif first[1] != value:
                group["conflicts"].setdefault(line_number, {})[column] = [
                    f"differs from line {first[0]} of the same message_id ({first[1]!r})"]
        member = {}
        for column, name in MEMBER_COLUMNS.items():
            value = _value(column, row.get(column) or "")
            if value is not None:
                member[name] = value
        group["document"]["team"].append(member)
        group["member_rows"].append(line_number)
    for group in groups.values():
        group.pop("seen")
        if group["document"].get("preferred_period") is None:
            group["document"]["preferred_period"] = {}
    return list(groups.values())


_PATH_TO_COLUMN = {path: column for column, path in SUBMISSION_COLUMNS.items()}
_MEMBER_TO_COLUMN = {name: column for column, name in MEMBER_COLUMNS.items()}


def errors_by_line(group: dict, errors: dict) -> dict[int, dict[str, list[str]]]:
    """A submission's field errors placed on the CSV line and column they came from."""
    placed: dict[int, dict[str, list[str]]] = {}
    first_line = group["rows"][0]
    for path, reasons in errors.items():
        match = _MEMBER_PATH.match(path)
        if match:
            index, rest = int(match.group(1)), match.group(2)
            line = group["member_rows"][index] if index < len(group["member_rows"]) \
                else first_line
            column = _MEMBER_TO_COLUMN.get(rest, "member" if not rest else rest)
        else:
            line = first_line
            column = _PATH_TO_COLUMN.get(path)
            if column is None:
                # a whole-object error (enterprise.workforce) or one without a column
                parent = next((c for p, c in _PATH_TO_COLUMN.items()
                               if p.startswith(path + ".")), None)
                column = parent or path
        placed.setdefault(line, {}).setdefault(column, []).extend(reasons)
    return placed


def document_bytes(group: dict) -> bytes:
    return json.dumps(group["document"]).encode()
