"""`score-dev`: run the whole platform on this machine.

    score-dev up        start RabbitMQ, the MongoDB wire server and the five services
    score-dev status    what is running, and each service's health
    score-dev inspect   what each service holds in its own database
    score-dev down      stop the services and FerretDB (--all: RabbitMQ and containers too)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from score_common.config import DEFAULT_HTTP_PORTS, SERVICES
from score_devenv.paths import var_dir
from score_devenv.servers import (
    ProvisionError, ensure_servers, log, remove_containers, stop_local_ferretdb,
    stop_local_rabbitmq, stop_pid,
)


def _pid_file(service: str) -> Path:
    path = var_dir() / "run"
    path.mkdir(exist_ok=True)
    return path / f"{service}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def running_pid(service: str) -> int | None:
    path = _pid_file(service)
    if path.exists():
        pid = int(path.read_text())
        if _alive(pid):
            return pid
        path.unlink()
    return None


def health(service: str, timeout: float = 2) -> dict | None:
    url = f"http://127.0.0.1:{DEFAULT_HTTP_PORTS[service]}/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read() or b"{}")
    except Exception:  # noqa: BLE001
        return None


def _state_file() -> Path:
    return var_dir() / "servers.json"


def service_environment(servers, service: str) -> dict:
    env = dict(os.environ)
    env.update({
        "AMQP_URI": servers.amqp_uri,
        "MONGODB_URI": servers.service_mongodb_uri(service),
        "SCORE_HTTP_ADDRESS": f"127.0.0.1:{DEFAULT_HTTP_PORTS[service]}",
    })
    return env


def up(args) -> int:
    servers = ensure_servers(detached=True)
    _state_file().write_text(json.dumps(servers.__dict__))
    command = shutil.which("score-service") or str(Path(sys.executable).parent / "score-service")
    logs = var_dir() / "log"
    logs.mkdir(exist_ok=True)
    start_sinks(logs)
    for service in SERVICES:
        if running_pid(service):
            log(f"{service} is already running")
            continue
        with open(logs / f"{service}.log", "ab") as out:
            process = subprocess.Popen([command, service], env=service_environment(servers, service),
                                       stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        _pid_file(service).write_text(str(process.pid))
    deadline = time.monotonic() + 90
    waiting = set(SERVICES)
    while waiting and time.monotonic() < deadline:
        for service in sorted(waiting):
            if not running_pid(service):
                raise ProvisionError(f"{service} exited at start; see {logs / (service + '.log')}")
            report = health(service)
            if report and report.get("status") == "ok":
                waiting.discard(service)
        time.sleep(0.5)
    if waiting:
        raise ProvisionError(f"not healthy after 90 s: {', '.join(sorted(waiting))}; "
                             f"see the logs in {logs}")
    print(summary(servers, logs))
    return 0


def start_sinks(logs: Path) -> None:
    """Email and SMS go to local sinks (score_devenv.sinks), kept under var/outbox."""
    if running_pid("sinks"):
        return
    with open(logs / "sinks.log", "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "score_devenv.sinks", "--dir", str(var_dir() / "outbox")],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    _pid_file("sinks").write_text(str(process.pid))


def summary(servers, logs: Path) -> str:
    lines = ["", "SCORE platform is running.", ""]
    for service in SERVICES:
        lines.append(f"  {service:<14} http://127.0.0.1:{DEFAULT_HTTP_PORTS[service]}/health   "
                     f"db {servers.service_mongodb_uri(service)}")
    mgmt = servers.management_url or "(not known for this broker)"
    lines += [
        "",
        f"  RabbitMQ       {servers.amqp_uri}  ({servers.amqp_mode})",
        f"  management UI  {mgmt.replace('guest:guest@', '')}  (user guest, password guest)",
        f"  MongoDB        {servers.mongodb_uri}  ({servers.mongodb_mode})",
        f"  logs           {logs}/<service>.log (JSON, one object a line)",
        f"  email, SMS     smtp://127.0.0.1:8025 and http://127.0.0.1:8106 (an Infobip "
        f"stand-in); what they receive is in {var_dir() / 'outbox'}",
        "",
        "  Try:  make sample    publish the sample partner enrollment (pika, as a partner)",
        "        make inspect   see what each service stored in its own database",
        "        make stop      stop everything",
        "",
    ]
    return "\n".join(lines)


def down(args) -> int:
    for service in (*SERVICES, "sinks"):
        pid = running_pid(service)
        if pid:
            log(f"stopping {service}")
            stop_pid(pid, service)
            _pid_file(service).unlink(missing_ok=True)
    stop_local_ferretdb()
    if args.all:
        stop_local_rabbitmq()
        try:
            remove_containers()
        except Exception as exc:  # noqa: BLE001
            log(f"could not remove containers: {exc}")
    return 0


def status(args) -> int:
    worst = 0
    for service in SERVICES:
        pid = running_pid(service)
        report = health(service) if pid else None
        state = report.get("status", "?") if report else ("not answering" if pid else "stopped")
        worst = worst or (0 if state == "ok" else 1)
        print(f"{service:<14} pid {pid or '-':<8} {state}")
    return worst


def _load_servers():
    from score_devenv.servers import Servers

    if not _state_file().exists():
        raise ProvisionError("the platform has not been started here: run `make run` first")
    return Servers(**json.loads(_state_file().read_text()))


def inspect(args) -> int:
    import pymongo

    servers = _load_servers()
    for service in SERVICES:
        uri = servers.service_mongodb_uri(service)
        client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)
        db = client.get_default_database(default=f"score_{service}")
        print(f"== {service}  ({db.name})")
        for name in sorted(db.list_collection_names()):
            if name.startswith("_") and not args.all:
                continue
            collection = db[name]
            print(f"   {name}: {collection.count_documents({})} document(s)")
            for doc in collection.find().sort("_id", -1).limit(args.show):
                text = json.dumps(doc, default=str)
                print(f"     {text[:300]}{'...' if len(text) > 300 else ''}")
        client.close()
    return 0


DEMO_PARTNER = "bedo"


def sample(args) -> int:
    """Submit a file as the demo partner BEDO (provisioned on first use) and print the answer."""
    import datetime

    from nameko.standalone.rpc import ClusterRpcProxy

    from score_enrollment.partner_admin import provision_partner
    from score_enrollment.partner_client import submit_file
    from score_scheduling.demo import ensure_workshop_for

    servers = _load_servers()
    credentials = var_dir() / "demo-partner.json"
    if not credentials.exists():
        provisioned = provision_partner(servers.amqp_uri, servers.management_url, DEMO_PARTNER,
                                        "BEDO (demo)", "foundation")
        credentials.write_text(json.dumps(provisioned, indent=2))
        log(f"provisioned demo partner {DEMO_PARTNER}; credentials in {credentials}")
    partner = json.loads(credentials.read_text())
    document = json.loads(Path(args.file).read_text())
    period = document.get("preferred_period") or {}
    today = datetime.date.today()
    if period.get("start", "9999") < today.isoformat():
        # A sample written months ago still demonstrates today: move its period ahead.
        start = today + datetime.timedelta(days=30)
        document["preferred_period"] = {"start": start.isoformat(),
                                        "end": (start + datetime.timedelta(days=45)).isoformat()}
        log(f"the sample's period has passed; submitting it for {start.isoformat()} onwards")
    with ClusterRpcProxy({"AMQP_URI": servers.amqp_uri}, timeout=30) as cluster:
        workshop = ensure_workshop_for(cluster, DEMO_PARTNER, document)
    log(f"workshop {workshop['workshop_id']} on {', '.join(workshop['days'])} "
        f"({workshop['timezone']}) awaits the sample's team")
    path = var_dir() / "sample-submission.json"
    path.write_text(json.dumps(document))
    answer = submit_file(partner["amqp_uri"], str(path), wait=30)
    return 0 if answer and answer.get("outcome") == "accepted" else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="score-dev", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up").set_defaults(func=up)
    p = sub.add_parser("down")
    p.add_argument("--all", action="store_true", help="also stop RabbitMQ and remove containers")
    p.set_defaults(func=down)
    sub.add_parser("status").set_defaults(func=status)
    p = sub.add_parser("inspect")
    p.add_argument("--show", type=int, default=3, help="latest documents to print per collection")
    p.add_argument("--all", action="store_true", help="include the inbox and version claims")
    p.set_defaults(func=inspect)
    p = sub.add_parser("sample")
    p.add_argument("file", nargs="?", default=str(Path(__file__).resolve().parents[3] / "samples"
                                                  / "partner-enrollment.json"))
    p.set_defaults(func=sample)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ProvisionError as exc:
        print(f"score-dev: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
