"""`score`: watch and mend a running SCORE platform.

    score status                     every service's health, and the queues that need a look
    score queues [--all]             depth, consumers and dead letters of each queue
    score dead list                  dead-letter queues that hold messages
    score dead show QUEUE [-n N]     the first N dead messages, with their errors
    score dead replay QUEUE [-n N]   send them back to their queue, for another try
    score seed-pilot                 the 2010 pilot (DOMAIN.md) as demo data
    score partner submit FILE --as AMQP_URI [--wait S]
                                     publish a submission as a partner would (pika)
    score reporting rebuild          fold reporting's read models again from its event log

Environment: AMQP_URI (the platform's broker user and virtual host), SCORE_NAMESPACE,
RABBITMQ_MANAGEMENT_URL (http://user:password@host:15672).
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import date, timedelta

from kombu import Connection
from nameko.standalone.rpc import ClusterRpcProxy
from tqdm import tqdm

from score_common.broker_admin import BrokerAdmin
from score_common.config import SERVICES
from score_common.errors import Refused

ERROR_HEADERS = ("x-score-error", "x-score-error-type", "x-score-permanent",
                 "x-score-traceback", "x-score-dead-lettered-at", "x-score-last-error")


class Ops:
    def __init__(self, environ=None, out=None):
        environ = os.environ if environ is None else environ
        self.amqp_uri = environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
        self.namespace = environ.get("SCORE_NAMESPACE", "score")
        self.management_url = environ.get("RABBITMQ_MANAGEMENT_URL",
                                          "http://guest:guest@127.0.0.1:15672")
        self.out = out or sys.stdout

    def say(self, text: str = "") -> None:
        print(text, file=self.out)

    @property
    def admin(self) -> BrokerAdmin:
        return BrokerAdmin.for_amqp_uri(self.management_url, self.amqp_uri)

    def rpc(self, timeout: float = 30):
        return ClusterRpcProxy({"AMQP_URI": self.amqp_uri}, timeout=timeout)

    # -- looking -----------------------------------------------------------------------------
    def queues(self) -> list[dict]:
        found = self.admin._call("GET", f"/api/queues/{self.admin._v}")
        return sorted((q for q in found if q["name"].startswith(self.namespace + ".")),
                      key=lambda q: q["name"])

    def status(self) -> int:
        worst = 0
        with self.rpc(timeout=5) as cluster:
            for service in SERVICES:
                try:
                    report = getattr(cluster, service).health()
                    state = report["status"]
                except Exception as exc:  # noqa: BLE001 - a service that cannot answer is down
                    state = f"not answering ({type(exc).__name__})"
                worst = worst or (0 if state == "ok" else 1)
                self.say(f"{service:<14} {state}")
        dead = [q for q in self.queues() if q["name"].endswith(".dead") and q.get("messages")]
        idle = [q for q in self.queues() if not q["name"].endswith(".dead")
                and ".retry." not in q["name"] and q.get("messages") and not q.get("consumers")]
        self.say()
        for q in dead:
            self.say(f"dead letters: {q['name']} holds {q['messages']}")
            worst = worst or 1
        for q in idle:
            self.say(f"no consumer: {q['name']} has {q['messages']} waiting")
        if not dead and not idle:
            self.say("queues: nothing dead, nothing waiting without a consumer")
        return worst

    def list_queues(self, everything: bool) -> int:
        self.say(f"{'queue':<70} {'ready':>7} {'unacked':>8} {'consumers':>9}")
        for q in self.queues():
            if not everything and ".retry." in q["name"]:
                continue
            self.say(f"{q['name']:<70} {q.get('messages_ready', 0):>7} "
                     f"{q.get('messages_unacknowledged', 0):>8} {q.get('consumers', 0):>9}")
        return 0

    def dead_list(self) -> int:
        found = [q for q in self.queues() if q["name"].endswith(".dead") and q.get("messages")]
        for q in found:
            self.say(f"{q['name']}: {q['messages']}")
        if not found:
            self.say("no dead letters")
        return 0

    def peek(self, queue: str, count: int) -> list[dict]:
        """The first messages of a queue, left where they are."""
        return self.admin._call("POST", f"/api/queues/{self.admin._v}/{queue}/get", json={
            "count": count, "ackmode": "ack_requeue_true", "encoding": "auto"})

    def dead_show(self, queue: str, count: int) -> int:
        queue = queue if queue.endswith(".dead") else queue + ".dead"
        for index, message in enumerate(self.peek(queue, count), start=1):
            headers = message["properties"].get("headers", {})
            self.say(f"--- {index} of {message['message_count'] + index}: "
                     f"{headers.get('x-score-error-type', '?')} after "
                     f"{headers.get('x-score-attempts', '?')} attempt(s), "
                     f"{headers.get('x-score-dead-lettered-at', '')}")
            self.say(f"error: {headers.get('x-score-error', '')}")
            self.say(f"from: {headers.get('x-score-original-queue', '')}")
            self.say(f"body: {message['payload'][:2000]}")
            if headers.get("x-score-traceback"):
                self.say(headers["x-score-traceback"])
        return 0

    # -- mending -----------------------------------------------------------------------------
    def dead_replay(self, queue: str, limit: int | None) -> int:
        """Move dead messages back to the queue they died in, as new first attempts (their
        error is dropped, where they came from is kept)."""
        dead = queue if queue.endswith(".dead") else queue + ".dead"
        replayed = 0
        with Connection(self.amqp_uri, transport_options={"confirm_publish": True}) as conn:
            channel = conn.channel()
            # the broker's own count (the management API's lags by seconds)
            waiting = channel.queue_declare(queue=dead, passive=True).message_count
            total = min(waiting, limit) if limit else waiting
            producer = conn.Producer(channel)
            with tqdm(total=total, desc=f"replaying {dead}", unit="msg", file=self.out,
                      disable=total < 2) as progress:
                while replayed < total:
                    message = channel.basic_get(dead, no_ack=False)
                    if message is None:
                        break
                    headers = dict(message.properties.get("application_headers") or {})
                    target = headers.get("x-score-original-queue") or dead[:-len(".dead")]
                    for name in ERROR_HEADERS:
                        headers.pop(name, None)
                    headers["x-score-attempts"] = 0
                    headers["x-score-replayed"] = True
                    properties = message.properties
                    producer.publish(
                        message.body, exchange="", routing_key=target, headers=headers,
                        content_type=properties.get("content_type") or "application/json",
                        content_encoding=properties.get("content_encoding") or "utf-8",
                        delivery_mode=2, message_id=properties.get("message_id"),
                        correlation_id=properties.get("correlation_id"), retry=True)
                    channel.basic_ack(message.delivery_info["delivery_tag"])
                    replayed += 1
                    progress.update(1)
        self.say(f"replayed {replayed} message(s) from {dead}")
        return 0

    def rebuild_reporting(self) -> int:
        with self.rpc(timeout=3600) as cluster:
            done = cluster.reporting.rebuild()
        self.say(f"reporting rebuilt {done['entities']} read models from {done['events']} "
                 f"events in {done['seconds']} s")
        return 0

    def submit_as_partner(self, path: str, partner_uri: str, wait: float) -> int:
        from score_enrollment.partner_client import submit_file

        answer = submit_file(partner_uri, path, namespace=self.namespace, wait=wait)
        return 0 if answer is None or answer.get("outcome") == "accepted" else 1

    # -- demo data ---------------------------------------------------------------------------
    def seed_pilot(self) -> int:
        """The 2010 pilot of Module 1 (DOMAIN.md) as demo data: BEDO, a trainer, venues in
        Jakarta and West Java, a two-day workshop in each three weeks on, and the five pilot
        enterprises enrolled through intake (each once, however often this runs)."""
        from score_scheduling.domain import first_two_working_days

        days = [d.isoformat() for d in first_two_working_days(date.today() + timedelta(days=21))]
        steps = [("partner", None)] + [("venue", p) for p in ("ID-JK", "ID-JB")] + \
            [("trainer", p) for p in ("ID-JK", "ID-JB")] + \
            [("workshop", p) for p in ("ID-JK", "ID-JB")] + \
            [("enterprise", e) for e in PILOT_ENTERPRISES]
        outcomes = []
        with self.rpc(timeout=60) as cluster, tqdm(steps, desc="seeding the 2010 pilot",
                                                   unit="step", file=self.out) as progress:
            for kind, item in progress:
                if kind == "partner":
                    cluster.enrollment.register_partner("bedo", "BEDO", "foundation",
                                                        "programme@bedo.example.or.id")
                elif kind == "venue":
                    cluster.scheduling.register_venue({
                        "code": f"pilot-{item.lower()}", "name": PILOT_VENUES[item][0],
                        "province": item, "district": PILOT_VENUES[item][1], "capacity": 40})
                elif kind == "trainer":
                    cluster.scheduling.register_trainer({
                        "code": f"pilot-{item.lower()}", "name": f"Pilot trainer ({item})",
                        "partner_id": "bedo", "modules": [1, 2, 3, 4, 5],
                        "provinces": [item]})
                elif kind == "workshop":
                    try:
                        cluster.scheduling.schedule_workshop({
                            "workshop_id": f"ws-pilot-m1-{item.lower()}-{days[0]}",
                            "module": 1, "venue_id": f"ven-pilot-{item.lower()}",
                            "trainer_ids": [f"trn-pilot-{item.lower()}"], "partner_id": "bedo",
                            "capacity_enterprises": 6, "capacity_seats": 30, "days": days},
                            "ops:seed-pilot")
                    except Refused as refused:  # the trainer's day is taken by an earlier run
                        self.say(f"workshop in {item} not scheduled: {refused.errors}")
                else:
                    answer = cluster.enrollment.submit("bedo", f"pilot-2010-{item['nib']}",
                                                       pilot_submission(item, days), "http")
                    outcomes.append(f"  {item['name']}: {answer['outcome']}"
                                    + (f" ({answer['enrollment_id']})"
                                       if answer.get("enrollment_id") else "")
                                    + (f": {answer['errors']}" if answer.get("errors") else ""))
        self.say(f"the 2010 pilot is seeded: workshops on {days[0]} and {days[1]}")
        self.say("\n".join(outcomes))
        return 0


PILOT_VENUES = {"ID-JK": ("BLK Jakarta Timur", "Pulogadung"),
                "ID-JB": ("BLK Bekasi", "Karawang")}
# The five pilot enterprises of 2010 (DOMAIN.md); registration numbers and teams invented.
PILOT_ENTERPRISES = [
    {"name": "PT Tjokro Bersaudara", "nib": "8120001234567", "sector": "automotive_parts",
     "province": "ID-JK", "district": "Pulogadung", "workforce": (40, 85)},
    {"name": "PT Trijaya Teknik", "nib": "8120001234568", "sector": "automotive_parts",
     "province": "ID-JB", "district": "Karawang Timur", "workforce": (22, 71)},
    {"name": "PT Lestari Dini Tunggul", "nib": "8120001234569", "sector": "garments_textiles",
     "province": "ID-JB", "district": "Depok", "workforce": (160, 25)},
    {"name": "PT Inprintama Asri", "nib": "8120001234570", "sector": "printing_packaging",
     "province": "ID-JK", "district": "Cengkareng", "workforce": (30, 60)},
    {"name": "PT Tesena Inovindo", "nib": "8120001234571", "sector": "medical_equipment",
     "province": "ID-JK", "district": "Jakarta Timur", "workforce": (35, 40)},
]


def pilot_submission(enterprise: dict, days: list[str]) -> dict:
    short = enterprise["name"].split()[1].lower()
    return {
        "schema_version": 1, "module": 1,
        "enterprise": {"name": enterprise["name"], "registration_number": enterprise["nib"],
                       "sector": enterprise["sector"], "province": enterprise["province"],
                       "district": enterprise["district"],
                       "workforce": {"women": enterprise["workforce"][0],
                                     "men": enterprise["workforce"][1]},
                       "contact": {"name": f"Manager {enterprise['name']}",
                                   "email": f"manager@{short}.example.co.id",
                                   "phone": "0813" + enterprise["nib"][-8:]}},
        "team": [{"name": f"Manager {enterprise['name']}", "role": "manager", "sex": "male",
                  "email": f"manager@{short}.example.co.id", "language": "id",
                  "consent_to_reminders": True},
                 {"name": f"Worker {enterprise['name']}", "role": "worker", "sex": "female",
                  "phone": "0812" + enterprise["nib"][-8:], "language": "id",
                  "consent_to_reminders": True}],
        "preferred_period": {"start": (date.fromisoformat(days[0]) - timedelta(days=7)
                                       ).isoformat(),
                             "end": (date.fromisoformat(days[0]) + timedelta(days=30)
                                     ).isoformat()},
    }


def main(argv=None, environ=None, out=None) -> int:
    parser = argparse.ArgumentParser(prog="score", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="every service's health and the queues that need a look")
    queues = commands.add_parser("queues", help="depth, consumers and dead letters")
    queues.add_argument("--all", action="store_true", help="retry queues too")
    dead = commands.add_parser("dead", help="dead-lettered messages")
    dead_commands = dead.add_subparsers(dest="action", required=True)
    dead_commands.add_parser("list")
    for action in ("show", "replay"):
        sub = dead_commands.add_parser(action)
        sub.add_argument("queue")
        sub.add_argument("-n", "--count", type=int, default=None if action == "replay" else 5)
    commands.add_parser("seed-pilot", help="the 2010 pilot as demo data")
    partner = commands.add_parser("partner", help="act as a partner")
    partner_commands = partner.add_subparsers(dest="action", required=True)
    submit = partner_commands.add_parser("submit")
    submit.add_argument("file")
    submit.add_argument("--as", dest="partner_uri", required=True,
                        help="the partner's own AMQP URI (score-partner-admin add prints it)")
    submit.add_argument("--wait", type=float, default=30)
    reporting = commands.add_parser("reporting", help="reporting's read models")
    reporting.add_subparsers(dest="action", required=True).add_parser("rebuild")
    args = parser.parse_args(argv)

    ops = Ops(environ, out)
    if args.command == "status":
        return ops.status()
    if args.command == "queues":
        return ops.list_queues(args.all)
    if args.command == "dead":
        if args.action == "list":
            return ops.dead_list()
        if args.action == "show":
            return ops.dead_show(args.queue, args.count)
        return ops.dead_replay(args.queue, args.count)
    if args.command == "seed-pilot":
        return ops.seed_pilot()
    if args.command == "partner":
        return ops.submit_as_partner(args.file, args.partner_uri, args.wait)
    if args.command == "reporting":
        return ops.rebuild_reporting()
    return 2


if __name__ == "__main__":
    sys.exit(main())

