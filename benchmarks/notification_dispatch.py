"""10,000 reminders due at once, dispatched to the local SMTP server and SMS stand-in.

    python benchmarks/notification_dispatch.py [--count 10000] [--dispatchers 2]

What it does, on the servers `make run` uses (or MONGODB_URI):
1. starts the mail and SMS sinks (score_devenv.sinks) as their own process;
2. plans `count` reminders in a fresh database, half SMS and half email (with an .ics),
   every one due at the same minute, each to its own recipient;
3. starts `dispatchers` dispatcher processes at once over that database (as a service
   scaled out would run them), each sweeping until nothing is left to send;
4. prints the time from the start of the dispatchers until the last message was recorded,
   what the sinks received, and the duplicates: messages the sinks got more than once for
   one key (SMS by messageId, email by Message-ID). Targets: under 60 s, 0 duplicates.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pymongo
import requests

from score_devenv.servers import ensure_servers
from score_devenv.sinks import SinksClient

DUE = datetime(2027, 3, 21, 2, 0, tzinfo=timezone.utc)  # 09:00 WIB, out of quiet hours
NOW = DUE + timedelta(seconds=30)
SESSIONS = [{"day": "2027-03-22", "starts_at": "2027-03-22T01:00:00+00:00",
             "ends_at": "2027-03-22T09:00:00+00:00"},
            {"day": "2027-03-23", "starts_at": "2027-03-23T01:00:00+00:00",
             "ends_at": "2027-03-23T09:00:00+00:00"}]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def connect(mongodb_uri: str, database: str) -> None:
    import mongoengine

    mongoengine.disconnect(alias="notifications")
    mongoengine.connect(db=database, host=mongodb_uri, alias="notifications", tz_aware=False)


def plan(mongodb_uri: str, database: str, count: int) -> None:
    from score_notifications.planner import Planner, workshop_context
    from score_notifications.domain import Recipient
    from score_notifications.store import NotificationsRepository

    connect(mongodb_uri, database)
    workshop = {"workshop_id": "ws-bench", "kind": "module", "module": 1,
                "days": ["2027-03-22", "2027-03-23"], "timezone": "Asia/Jakarta",
                "sessions": SESSIONS, "revision": 0,
                "venue": {"venue_id": "v", "name": "BLK Jakarta Timur", "address": "Jl. Raya"}}
    context = {**workshop_context(workshop), "day_number": 1}
    planner = Planner(DUE - timedelta(days=1))
    repository = NotificationsRepository("notifications")
    batch = []
    for n in range(count):
        recipient = Recipient(f"p-{n}", f"Peserta {n}", "worker" if n % 2 else "manager",
                              phone=f"+62812{n:08d}" if n % 2 else None,
                              email=None if n % 2 else f"peserta{n}@example.co.id")
        batch.append(planner.message(f"reg-{n}", recipient, "workshop_tomorrow", DUE,
                                     "Asia/Jakarta", context, workshop_id="ws-bench"))
        if len(batch) == 1000:
            repository.add_messages(batch, planner.now)
            batch = []
    repository.add_messages(batch, planner.now)


def dispatch(mongodb_uri: str, database: str, sms_url: str, smtp_url: str, results) -> None:
    from score_notifications.dispatcher import Dispatcher
    from score_notifications.mail import SmtpMail
    from score_notifications.sms import InfobipSms
    from score_notifications.store import NotificationsRepository
    from score_notifications.templates import Templates

    connect(mongodb_uri, database)
    dispatcher = Dispatcher(NotificationsRepository("notifications"),
                            InfobipSms(sms_url, "local-dev-key", "SCORE", None),
                            SmtpMail(smtp_url, "SCORE <no-reply@score.local>"), Templates())
    sent, idle = 0, 0
    while idle < 2:
        tally = dispatcher.sweep(NOW)
        sent += tally.sent
        idle = idle + 1 if not tally.sent and not tally.retried else 0
    results.put(sent)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--dispatchers", type=int, default=2)
    args = parser.parse_args(argv)

    servers = ensure_servers(detached=True)
    database = f"bench_{uuid.uuid4().hex[:6]}_notifications"
    smtp_port, sms_port = free_port(), free_port()
    sinks_process = subprocess.Popen(
        [sys.executable, "-m", "score_devenv.sinks", "--smtp-port", str(smtp_port),
         "--sms-port", str(sms_port)], stdout=subprocess.DEVNULL)
    sinks = SinksClient(f"http://127.0.0.1:{sms_port}", f"smtp://127.0.0.1:{smtp_port}")
    client = pymongo.MongoClient(servers.mongodb_uri)
    try:
        for _ in range(100):
            try:
                sinks.texts()
                break
            except requests.RequestException:
                time.sleep(0.1)
        started = time.perf_counter()
        plan(servers.mongodb_uri, database, args.count)
        planning = time.perf_counter() - started

        results = multiprocessing.get_context("spawn").Queue()
        workers = [multiprocessing.get_context("spawn").Process(
            target=dispatch, args=(servers.mongodb_uri, database, sinks.sms_url,
                                   sinks.smtp_url, results)) for _ in range(args.dispatchers)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        if any(worker.exitcode for worker in workers):
            print("a dispatcher process failed; see above")
            return 2
        recorded = sum(results.get(timeout=10) for _ in workers)

        texts = sinks.texts()
        mail = sinks.mail()
        sms_keys = Counter(t["messageId"] for t in texts)
        mail_keys = Counter(m["message_id"] for m in mail)
        duplicates = sum(n - 1 for n in sms_keys.values() if n > 1) + \
            sum(n - 1 for n in mail_keys.values() if n > 1)
        statuses = Counter(doc["status"] for doc in client[database].messages.find(
            {}, {"status": 1}))
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}, MongoDB wire server {servers.mongodb_mode}")
        print(f"planned {args.count} reminders due at once in {planning:.1f} s")
        print(f"dispatched by {args.dispatchers} dispatcher processes in {elapsed:.1f} s "
              f"({args.count / elapsed:.0f}/s): recorded sent {recorded}, statuses "
              f"{dict(statuses)}")
        print(f"the sinks received: {len(texts)} SMS ({len(sms_keys)} keys), {len(mail)} "
              f"emails ({len(mail_keys)} keys); duplicates: {duplicates}")
        print(f"targets: under 60 s -> {'met' if elapsed < 60 else 'NOT met'}; "
              f"0 duplicates -> {'met' if duplicates == 0 else 'NOT met'}")
        return 0 if duplicates == 0 and recorded == args.count else 1
    finally:
        sinks_process.terminate()
        client.drop_database(database)


if __name__ == "__main__":
    raise SystemExit(main())
