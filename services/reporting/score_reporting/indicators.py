"""Programme indicators as the seeds report them, from the read models, and their exports.

Reached: an enterprise whose team attended a workshop (trained); its workers are its
workforce, by sex. Higher productivity / cost saving: among enterprises whose coaching
ended with that indicator measured, the share whose final value is better than the
baseline. Training activities: every completed workshop, with attendance by sex (present
both days). Run by partners: activities organised by an implementing partner rather than
the ILO.
"""
from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import asdict, dataclass

ILO = "ilo"


@dataclass(frozen=True)
class Filters:
    module: int | None = None
    province: str | None = None
    partner_id: str | None = None
    sector: str | None = None
    period_from: str | None = None  # ISO day, inclusive
    period_to: str | None = None

    @classmethod
    def of(cls, raw: dict | None) -> "Filters":
        raw = {k: v for k, v in (raw or {}).items() if v not in (None, "")}
        if "module" in raw:
            raw["module"] = int(raw["module"])
        return cls(**{k: raw.get(k) for k in cls.__dataclass_fields__})

    def _in_period(self, day: str | None) -> bool:
        if day is None:
            return self.period_from is None and self.period_to is None
        day = day[:10]
        return (self.period_from is None or day >= self.period_from) and \
            (self.period_to is None or day <= self.period_to)

    def keeps_enterprise(self, state: dict) -> bool:
        enterprise = state.get("enterprise") or {}
        return state.get("enrolled") and all((
            self.module is None or state.get("module") == self.module,
            self.province is None or enterprise.get("province") == self.province,
            self.partner_id is None or state.get("partner_id") == self.partner_id,
            self.sector is None or enterprise.get("sector") == self.sector,
            self._in_period(state.get("trained_on") or state.get("enrolled_at"))))

    def keeps_other_activity(self, activity: dict) -> bool:
        return all((
            self.module is None or activity.get("module") == self.module,
            self.province is None or activity.get("province") == self.province,
            self.partner_id is None or activity.get("organiser") == self.partner_id,
            self._in_period(activity["first_day"])))

    def keeps_activity(self, cohort: dict) -> bool:
        return cohort.get("status") == "completed" and all((
            self.module is None or cohort.get("module") == self.module,
            self.province is None or cohort.get("province") == self.province,
            self.partner_id is None or cohort.get("partner_id") == self.partner_id,
            self._in_period(min(cohort.get("days") or [None]))))


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _improved_share(states: list[dict], kpi: str) -> dict:
    measured = improved = 0
    for state in states:
        outcome = next((k for k in (state.get("coaching") or {}).get("kpis", [])
                        if k["kpi"] == kpi), None)
        if outcome is None or outcome.get("improved") is None:
            continue
        measured += 1
        improved += bool(outcome["improved"])
    return {"measured": measured, "improved": improved, "share": share(improved, measured)}


def activity_of(cohort: dict) -> dict:
    """A completed workshop as a training activity."""
    return {"activity_id": cohort["workshop_id"], "title": None,
            "kind": f"{cohort.get('kind') or 'module'} workshop", "module": cohort.get("module"),
            "province": cohort.get("province"), "organiser": cohort.get("partner_id"),
            "first_day": min(cohort["days"]), "attended_women": cohort["attendance"]["women"],
            "attended_men": cohort["attendance"]["men"]}


def programme(enterprises: list[dict], cohorts: list[dict], filters: Filters,
              other_activities: list[dict] = ()) -> dict:
    kept = [s for s in enterprises if filters.keeps_enterprise(s)]
    trained = [s for s in kept if s.get("attendance") and not s.get("withdrawn")]
    reached = {}
    for state in trained:  # an enterprise trained in several modules counts once
        reached.setdefault(state["enterprise"]["enterprise_id"], state)
    workers = {"women": sum(s["enterprise"]["workforce"]["women"] for s in reached.values()),
               "men": sum(s["enterprise"]["workforce"]["men"] for s in reached.values())}
    participants = Counter()
    for state in trained:
        sexes = {p["participant_id"]: p["sex"] for p in state["attendance"]["participants"]}
        for participant_id, days in state["attendance"]["attendance"].items():
            if days and all(v == "present" for v in days.values()):
                participants[sexes.get(participant_id, "unknown")] += 1
    activities = sorted(
        [activity_of(c) for c in cohorts if filters.keeps_activity(c)]
        + [a for a in other_activities if filters.keeps_other_activity(a)],
        key=lambda a: (a["first_day"], a["activity_id"]))
    run_by_partners = sum(1 for a in activities if a["organiser"] != ILO)
    coached = [s for s in kept if s.get("coaching")]
    return {
        "filters": {k: v for k, v in asdict(filters).items() if v is not None},
        "enterprises": {"enrolled": len({s["enterprise"]["enterprise_id"] for s in kept}),
                        "reached": len(reached),
                        "coached": len({s["enterprise"]["enterprise_id"] for s in coached}),
                        "reported": sum(1 for s in kept if s.get("report"))},
        "workers_reached": {**workers, "total": workers["women"] + workers["men"]},
        "participants_trained": {"women": participants["female"],
                                 "men": participants["male"]},
        "higher_productivity": _improved_share(coached, "productivity"),
        "cost_saving": _improved_share(coached, "cost_saving"),
        "activities": {"total": len(activities), "run_by_partners": run_by_partners,
                       "share_run_by_partners": share(run_by_partners, len(activities)),
                       "attendance": {
                           "women": sum(a["attended_women"] for a in activities),
                           "men": sum(a["attended_men"] for a in activities)}},
        "training_activities": activities,
        "reach_by": {
            "province": dict(sorted(Counter(s["enterprise"]["province"]
                                            for s in reached.values()).items())),
            "sector": dict(sorted(Counter(s["enterprise"]["sector"]
                                          for s in reached.values()).items())),
            "partner": dict(sorted(Counter(s["partner_id"] for s in reached.values()).items())),
            "module": {str(k): v for k, v in sorted(Counter(s["module"]
                                                            for s in trained).items())}},
    }


SUMMARY_ROWS = (
    ("Enterprises enrolled", lambda r: r["enterprises"]["enrolled"]),
    ("Enterprises reached (trained)", lambda r: r["enterprises"]["reached"]),
    ("Enterprises coached", lambda r: r["enterprises"]["coached"]),
    ("Enterprise reports generated", lambda r: r["enterprises"]["reported"]),
    ("Workers reached, women", lambda r: r["workers_reached"]["women"]),
    ("Workers reached, men", lambda r: r["workers_reached"]["men"]),
    ("Participants trained, women", lambda r: r["participants_trained"]["women"]),
    ("Participants trained, men", lambda r: r["participants_trained"]["men"]),
    ("Share reporting higher productivity", lambda r: r["higher_productivity"]["share"]),
    ("Share reporting cost saving", lambda r: r["cost_saving"]["share"]),
    ("Training activities", lambda r: r["activities"]["total"]),
    ("Share of activities run by partners",
     lambda r: r["activities"]["share_run_by_partners"]),
)
ACTIVITY_COLUMNS = ("activity_id", "title", "kind", "module", "province", "organiser",
                    "first_day", "attended_women", "attended_men")


def to_csv(report: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["indicator", "value"])
    for name, value in SUMMARY_ROWS:
        writer.writerow([name, "" if value(report) is None else value(report)])
    for dimension, counts in report["reach_by"].items():
        for key, count in counts.items():
            writer.writerow([f"Enterprises reached by {dimension}: {key}", count])
    writer.writerow([])
    writer.writerow(ACTIVITY_COLUMNS)
    for activity in report["training_activities"]:
        writer.writerow([activity[c] for c in ACTIVITY_COLUMNS])
    return out.getvalue()


def to_xlsx(report: dict) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    summary = book.active
    summary.title = "Indicators"
    summary.append(["Indicator", "Value"])
    for name, value in SUMMARY_ROWS:
        summary.append([name, value(report)])
    summary.append([])
    summary.append(["Filters", ", ".join(f"{k}={v}" for k, v in report["filters"].items())
                    or "none"])
    reach = book.create_sheet("Reach")
    reach.append(["Dimension", "Value", "Enterprises reached"])
    for dimension, counts in report["reach_by"].items():
        for key, count in counts.items():
            reach.append([dimension, key, count])
    activities = book.create_sheet("Training activities")
    activities.append(list(ACTIVITY_COLUMNS))
    for activity in report["training_activities"]:
        activities.append([activity[c] for c in ACTIVITY_COLUMNS])
    for sheet in book.worksheets:
        sheet.column_dimensions["A"].width = 40
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
