"""Reporting at the seeds' scale: build the programme report and one enterprise PDF.

    python benchmarks/reporting_scale.py [--enterprises 2300] [--workers 34900]

What it does, on the MongoDB wire server `make run` uses (or MONGODB_URI):
1. generates a programme like the seeds' (score_reporting.samples.programme: 2,300
   enterprises, 34,900 workers, 14 provinces, 8 partners, all five modules, most coached to
   the end) as real event envelopes;
2. feeds them to reporting's event log in a fresh database and folds the read models from
   it (the rebuild path);
3. times the programme report (indicators over every record, unfiltered and filtered by a
   province) and one enterprise's report (content and a PDF), and prints peak memory.
Targets: programme report under 10 s, one enterprise PDF under 1.5 s.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import time
import uuid

import mongoengine
import pymongo

from score_devenv.servers import ensure_servers


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enterprises", type=int, default=2300)
    parser.add_argument("--workers", type=int, default=34_900)
    args = parser.parse_args(argv)

    from score_reporting import indicators, report, samples
    from score_reporting.models import CohortRecord, EnterpriseRecord, RecordedEvent
    from score_reporting.store import ReportingRepository, event_row

    servers = ensure_servers(detached=True)
    database = f"bench_{uuid.uuid4().hex[:6]}_reporting"
    mongoengine.connect(db=database, host=servers.mongodb_uri, alias="reporting")
    client = pymongo.MongoClient(servers.mongodb_uri)
    repository = ReportingRepository("reporting")
    try:
        started = time.perf_counter()
        events = samples.programme(args.enterprises, args.workers)
        generated = time.perf_counter() - started

        started = time.perf_counter()
        rows = [event_row(e) for e in events]
        for start in range(0, len(rows), 2000):
            RecordedEvent._get_collection().insert_many(rows[start:start + 2000], ordered=False)
        recorded = time.perf_counter() - started
        built = repository.rebuild()

        started = time.perf_counter()
        programme = indicators.programme(repository.states(EnterpriseRecord),
                                         repository.states(CohortRecord), indicators.Filters())
        programme_seconds = time.perf_counter() - started
        started = time.perf_counter()
        jakarta = indicators.programme(repository.states(EnterpriseRecord),
                                       repository.states(CohortRecord),
                                       indicators.Filters(province="ID-JK"))
        filtered_seconds = time.perf_counter() - started
        started = time.perf_counter()
        indicators.to_xlsx(programme)
        xlsx_seconds = time.perf_counter() - started

        coached = next(s for s in repository.states(EnterpriseRecord) if s.get("coaching"))
        started = time.perf_counter()
        state = repository.enterprise(coached["enrollment_id"])
        document = report.pdf(report.content(state), "id")
        pdf_seconds = time.perf_counter() - started

        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}, MongoDB wire server {servers.mongodb_mode}")
        print(f"programme: {programme['enterprises']['enrolled']} enterprises, "
              f"{programme['workers_reached']['total']} workers reached, "
              f"{programme['activities']['total']} workshops, {len(events)} events "
              f"(generated in {generated:.1f} s)")
        print(f"recorded the events in {recorded:.1f} s; folded {built['entities']} read "
              f"models in {built['seconds']:.1f} s")
        print(f"programme report: {programme_seconds:.2f} s (filtered by province: "
              f"{filtered_seconds:.2f} s, {jakarta['enterprises']['reached']} enterprises; "
              f"XLSX export {xlsx_seconds:.2f} s)")
        print(f"one enterprise report (record, content, PDF of {len(document) // 1024} KiB): "
              f"{pdf_seconds:.2f} s")
        print(f"peak memory (max RSS): {peak_mib:.0f} MiB")
        print(f"targets: programme report under 10 s -> "
              f"{'met' if programme_seconds < 10 else 'NOT met'}; PDF under 1.5 s -> "
              f"{'met' if pdf_seconds < 1.5 else 'NOT met'}")
        return 0
    finally:
        client.drop_database(database)


if __name__ == "__main__":
    raise SystemExit(main())
