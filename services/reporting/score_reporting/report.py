"""The enterprise improvement report: its content (JSON) and a PDF in id and en (ReportLab),
written from an enterprise's record as soon as its coaching has ended. Whatever is missing
(an indicator never measured, an enrollment not yet heard of) is shown as missing."""
from __future__ import annotations

import io

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

# Shown in every report, measured or not: what the programme reports to donors first.
HEADLINE_KPIS = ("productivity", "cost_saving", "defect_rate", "absenteeism")

WORDS = {
    "en": {"title": "Enterprise Improvement Report", "module": "Module", "partner": "Partner",
           "province": "Province", "sector": "Sector", "workshop": "Workshop",
           "attendance": "Workshop attendance", "present": "present both days",
           "indicators": "Indicators: baseline and final", "indicator": "Indicator",
           "unit": "Unit", "baseline": "Baseline", "final": "Final",
           "change": "Improvement", "flag": "Note", "missing": "not measured",
           "actions": "Actions agreed", "owner": "Owner", "due": "Due", "done": "Done",
           "yes": "yes", "no": "open", "chart": "Final value as % of baseline",
           "visits": "Coaching visits", "completed": "Coaching completed on",
           "unknown": "unknown", "qualified": "Qualified for coaching"},
    "id": {"title": "Laporan Perbaikan Perusahaan", "module": "Modul", "partner": "Mitra",
           "province": "Provinsi", "sector": "Sektor", "workshop": "Lokakarya",
           "attendance": "Kehadiran lokakarya", "present": "hadir kedua hari",
           "indicators": "Indikator: awal dan akhir", "indicator": "Indikator",
           "unit": "Satuan", "baseline": "Awal", "final": "Akhir",
           "change": "Perbaikan", "flag": "Catatan", "missing": "tidak diukur",
           "actions": "Tindakan yang disepakati", "owner": "Penanggung jawab",
           "due": "Tenggat", "done": "Selesai", "yes": "ya", "no": "terbuka",
           "chart": "Nilai akhir sebagai % dari nilai awal", "visits": "Kunjungan pendampingan",
           "completed": "Pendampingan selesai pada", "unknown": "tidak diketahui",
           "qualified": "Memenuhi syarat pendampingan"},
}


def content(state: dict) -> dict:
    """The report's content, from an enterprise record: the same in JSON and in the PDFs."""
    enterprise = state.get("enterprise") or {}
    coaching = state.get("coaching") or {}
    attendance = state.get("attendance") or {}
    measured = {k["kpi"]: k for k in coaching.get("kpis", [])}
    kpis = list(coaching.get("kpis", [])) + [
        {"kpi": code, "name": code.replace("_", " ").capitalize(), "unit": None,
         "baseline": None, "final": None, "improvement": None, "improved": None,
         "flag": None, "missing": True}
        for code in HEADLINE_KPIS if code not in measured]
    present = []
    for participant in attendance.get("participants", []):
        days = attendance.get("attendance", {}).get(participant["participant_id"], {})
        present.append({"name": participant["name"], "role": participant["role"],
                        "sex": participant["sex"],
                        "present_both_days": bool(days) and all(
                            v == "present" for v in days.values())})
    return {
        "enrollment_id": state.get("enrollment_id"),
        "enterprise": {k: enterprise.get(k) for k in (
            "enterprise_id", "name", "sector", "province", "district", "workforce")},
        "partner_id": state.get("partner_id"), "module": state.get("module"),
        "workshop": {"workshop_id": attendance.get("workshop_id"),
                     "days": attendance.get("days"), "qualified": attendance.get("qualified"),
                     "participants": present},
        "coaching": {"visits": coaching.get("visits"),
                     "completed_on": coaching.get("completed_on"),
                     "trainer_id": coaching.get("trainer_id")},
        "kpis": kpis,
        "actions": coaching.get("actions", []),
    }


def _number(value) -> str:
    if value is None:
        return "-"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else \
        f"{value:,}"


def _chart(kpis: list[dict], words: dict) -> Drawing | None:
    rows = [k for k in kpis if not k.get("missing") and k.get("baseline")]
    if not rows:
        return None
    height = 30 + 22 * len(rows)
    drawing = Drawing(170 * mm, height)
    chart = HorizontalBarChart()
    chart.x, chart.y = 55 * mm, 10
    chart.width, chart.height = 100 * mm, height - 30
    chart.data = [[100.0] * len(rows),
                  [round(100.0 * k["final"] / k["baseline"], 1) for k in rows]]
    chart.categoryAxis.categoryNames = [k["name"] for k in rows]
    chart.categoryAxis.labels.fontSize = 8
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontSize = 7
    chart.bars[0].fillColor = colors.HexColor("#9fb6cd")
    chart.bars[1].fillColor = colors.HexColor("#1f4e79")
    drawing.add(chart)
    drawing.add(String(55 * mm, height - 12, f"{words['chart']} "
                       f"({words['baseline']} = 100)", fontSize=9))
    return drawing


def pdf(report: dict, language: str) -> bytes:
    words = WORDS[language]
    styles = getSampleStyleSheet()
    out = io.BytesIO()
    document = SimpleDocTemplate(out, pagesize=A4, title=words["title"],
                                 leftMargin=18 * mm, rightMargin=18 * mm,
                                 topMargin=16 * mm, bottomMargin=16 * mm)
    enterprise = report["enterprise"]
    unknown = words["unknown"]
    story = [Paragraph(words["title"], styles["Title"]),
             Paragraph(f"<b>{enterprise.get('name') or unknown}</b>", styles["Heading2"]),
             Table([[words["module"], report.get("module") or unknown,
                     words["partner"], report.get("partner_id") or unknown],
                    [words["province"], enterprise.get("province") or unknown,
                     words["sector"], enterprise.get("sector") or unknown],
                    [words["visits"], _number(report["coaching"]["visits"]),
                     words["completed"], report["coaching"]["completed_on"] or unknown]],
                   style=[("FONTSIZE", (0, 0), (-1, -1), 9),
                          ("TEXTCOLOR", (0, 0), (0, -1), colors.grey),
                          ("TEXTCOLOR", (2, 0), (2, -1), colors.grey)]),
             Spacer(1, 6 * mm), Paragraph(words["indicators"], styles["Heading3"])]
    rows = [[words["indicator"], words["unit"], words["baseline"], words["final"],
             words["change"], words["flag"]]]
    for kpi in report["kpis"]:
        if kpi.get("missing"):
            rows.append([kpi["name"], "-", words["missing"], words["missing"], "-", ""])
            continue
        change = "-" if kpi["improvement"] is None else f"{kpi['improvement'] * 100:+.1f}%"
        rows.append([kpi["name"], kpi["unit"] or "", _number(kpi["baseline"]),
                     _number(kpi["final"]), change,
                     Paragraph(kpi["flag"] or "", styles["BodyText"])])
    story.append(Table(rows, colWidths=[40 * mm, 28 * mm, 22 * mm, 22 * mm, 22 * mm, 40 * mm],
                       repeatRows=1, style=TableStyle([
                           ("FONTSIZE", (0, 0), (-1, -1), 8),
                           ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6ef")),
                           ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                           ("VALIGN", (0, 0), (-1, -1), "TOP")])))
    chart = _chart(report["kpis"], words)
    if chart is not None:
        story += [Spacer(1, 4 * mm), chart]
    story += [Spacer(1, 4 * mm), Paragraph(words["actions"], styles["Heading3"])]
    actions = [[words["actions"], words["owner"], words["due"], words["done"]]] + [
        [Paragraph(a["description"], styles["BodyText"]), a["owner"], a["due"],
         words["yes"] if a["done"] else words["no"]] for a in report["actions"]]
    story.append(Table(actions, colWidths=[85 * mm, 40 * mm, 25 * mm, 20 * mm], repeatRows=1,
                       style=[("FONTSIZE", (0, 0), (-1, -1), 8),
                              ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6ef")),
                              ("GRID", (0, 0), (-1, -1), 0.25, colors.grey)]))
    workshop = report["workshop"]
    story += [Spacer(1, 4 * mm), Paragraph(words["attendance"], styles["Heading3"]),
              Paragraph(f"{words['workshop']} {workshop['workshop_id'] or unknown} "
                        f"({', '.join(workshop['days'] or []) or unknown}). "
                        f"{words['qualified']}: "
                        f"{words['yes'] if workshop['qualified'] else words['no']}.",
                        styles["BodyText"])]
    attendance = [[p["name"], p["role"], words["present"] if p["present_both_days"] else "-"]
                  for p in workshop["participants"]]
    if attendance:
        story.append(Table(attendance, colWidths=[70 * mm, 30 * mm, 50 * mm],
                           style=[("FONTSIZE", (0, 0), (-1, -1), 8)]))
    document.build(story)
    return out.getvalue()
