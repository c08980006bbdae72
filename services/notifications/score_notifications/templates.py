"""Messages written from Jinja2 templates, one per kind and language (templates/<lang>/),
each with the blocks `sms`, `subject`, `text` and `html`. Dates and times are written for
the recipient's language by Babel, in the zone of the venue or enterprise ("Senin,
22 Maret 2027", "08.00 WIB")."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from score_common.indonesia import ZONE_ABBREVIATIONS
from score_notifications import sms
from score_notifications.domain import template_of

LANGUAGES = ("id", "en")
MODULE_NAMES = {
    "en": {1: "Workplace Cooperation", 2: "Quality Management",
           3: "Productivity and Cleaner Production", 4: "Human Resource Management",
           5: "Occupational Safety and Health"},
    "id": {1: "Kerja Sama di Tempat Kerja", 2: "Manajemen Mutu",
           3: "Produktivitas dan Produksi Bersih", 4: "Manajemen Sumber Daya Manusia",
           5: "Keselamatan dan Kesehatan Kerja"},
}


def workshop_title(language: str, kind: str, module: int) -> str:
    if kind == "results":
        return "Presentasi Hasil SCORE" if language == "id" else "SCORE Results Presentation"
    return f"{'Modul' if language == 'id' else 'Module'} {module}: " \
           f"{MODULE_NAMES[language][module]}"
MAX_SMS_SEGMENTS = 2  # longer texts cost more and read worse: templates must fit


@dataclass(frozen=True)
class Rendered:
    sms: str
    subject: str
    text: str
    html: str

    @property
    def sms_segments(self) -> int:
        return sms.segments(self.sms)


class Templates:
    def __init__(self):
        self.environment = Environment(
            loader=PackageLoader("score_notifications", "templates"),
            autoescape=select_autoescape(enabled_extensions=(), default_for_string=False),
            undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

    def render(self, kind: str, language: str, timezone: str, context: dict) -> Rendered:
        language = language if language in LANGUAGES else "id"
        template = self.environment.get_template(f"{language}/{template_of(kind)}.j2")
        values = {**context, **_formatters(language, timezone)}
        if "module" in context:
            values["workshop_title"] = workshop_title(language, context.get("workshop_kind",
                                                                            "module"),
                                                      context["module"])
        parts = {}
        for block in ("sms", "subject", "text", "html"):
            render = template.blocks[block]
            parts[block] = "".join(render(template.new_context(values))).strip()
            if block == "subject":
                values["subject_text"] = str(parts[block])  # escaped where HTML shows it
        return Rendered(**parts)


def _formatters(language: str, timezone: str) -> dict:
    zone = ZoneInfo(timezone)
    abbreviation = ZONE_ABBREVIATIONS.get(timezone, timezone)

    def day(value) -> str:
        value = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        return format_date(value, "full", locale=language)

    def short_day(value) -> str:
        value = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        return format_date(value, "EEE d MMM", locale=language)

    def clock(value) -> str:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        pattern = "HH.mm" if language == "id" else "HH:mm"
        return f"{format_time(moment.astimezone(zone), pattern, locale=language)} {abbreviation}"

    return {"day": day, "short_day": short_day, "clock": clock}
