"""Provide RabbitMQ and a MongoDB wire server: the one code path behind `make run`, `make test`
and CI.

Order of preference, for each server separately:
1. a server given in the environment (AMQP_URI; MONGODB_URI, or <SERVICE>_MONGODB_URI);
2. a container through testcontainers, when a Docker engine answers;
3. a local server: Debian's rabbitmq-server (installed with apt-get when missing) and
   FerretDB v1.24.2 on SQLite (built once with Go from the module proxy, then cached).

Re-running finds what is already running and never starts a second copy. Anything that cannot
be provided stops with one sentence saying what is missing and how to provide it.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from score_devenv import ferretdb
from score_devenv.paths import var_dir


class ProvisionError(RuntimeError):
    """Something the platform needs cannot be provided; the message says how to provide it."""


@dataclass
class Servers:
    amqp_uri: str
    mongodb_uri: str  # base URI; each service gets its own database under it
    management_url: str | None
    amqp_mode: str
    mongodb_mode: str
    mongodb_service_uris: dict = field(default_factory=dict)

    def service_mongodb_uri(self, service: str, database: str | None = None) -> str:
        if service in self.mongodb_service_uris and database is None:
            return self.mongodb_service_uris[service]
        return with_database(self.mongodb_uri, database or f"score_{service}")


def with_database(uri: str, database: str) -> str:
    parts = urlsplit(uri)
    query = parts.query
    old_db = parts.path.lstrip("/")
    if old_db and "authsource=" not in query.lower():
        # The base URI's database was its authentication database; keep it so.
        query = "&".join(filter(None, [query, f"authSource={old_db}"]))
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", query, parts.fragment))


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(predicate, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise ProvisionError(f"{what} did not become ready within {timeout:.0f} s")


def log(message: str) -> None:
    print(f"[score-dev] {message}", file=sys.stderr, flush=True)


# -- Docker -------------------------------------------------------------------------------------
def docker_available() -> bool:
    if os.environ.get("SCORE_USE_DOCKER", "auto") == "never":
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means: no engine for us
        return False


_containers = []  # kept referenced so testcontainers does not reap them while we run


def _container_state_file() -> Path:
    return var_dir() / "containers.json"


def _remember_container(container) -> None:
    path = _container_state_file()
    ids = json.loads(path.read_text()) if path.exists() else []
    ids.append(container.get_wrapped_container().id)
    path.write_text(json.dumps(ids))


def rabbitmq_container(detached: bool) -> Servers:
    from testcontainers.rabbitmq import RabbitMqContainer

    container = RabbitMqContainer("rabbitmq:3.13-management").with_exposed_ports(5672, 15672)
    container.start()
    _containers.append(container)
    if detached:
        _remember_container(container)
    host = container.get_container_host_ip()
    amqp = f"amqp://guest:guest@{host}:{container.get_exposed_port(5672)}/"
    mgmt = f"http://guest:guest@{host}:{container.get_exposed_port(15672)}"
    return amqp, mgmt


def mongodb_container(detached: bool) -> str:
    from testcontainers.mongodb import MongoDbContainer

    container = MongoDbContainer("mongo:7")
    container.start()
    _containers.append(container)
    if detached:
        _remember_container(container)
    return container.get_connection_url().rstrip("/") + "/"


def remove_containers() -> None:
    path = _container_state_file()
    if not path.exists():
        return
    import docker

    client = docker.from_env()
    for container_id in json.loads(path.read_text()):
        try:
            client.containers.get(container_id).remove(force=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
    path.unlink()


# -- local RabbitMQ ------------------------------------------------------------------------------
LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_MANAGEMENT = "http://guest:guest@127.0.0.1:15672"


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


def ensure_local_rabbitmq() -> tuple[str, str]:
    if not shutil.which("rabbitmq-server"):
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise ProvisionError(
                "RabbitMQ is not installed: install Debian's rabbitmq-server "
                "(sudo apt-get install rabbitmq-server) or set AMQP_URI to a running broker")
        log("installing rabbitmq-server with apt-get (once)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        update = _run(["apt-get", "update", "-qq"], env=env)
        install = _run(["apt-get", "install", "-y", "-qq", "rabbitmq-server"], env=env)
        if install.returncode != 0:
            raise ProvisionError("apt-get could not install rabbitmq-server: "
                                 + (install.stderr or update.stderr).strip()[-500:])
    if not port_open("127.0.0.1", 5672):
        _run(["rabbitmq-plugins", "enable", "--offline", "rabbitmq_management"])
        log("starting rabbitmq-server (detached)")
        started = _run(["rabbitmq-server", "-detached"])
        if started.returncode != 0:
            raise ProvisionError("rabbitmq-server would not start: " + started.stderr.strip())
        # await_startup gives up at once while the new node has not yet registered with
        # epmd, so first wait for the broker's port, then for the boot to complete.
        try:
            wait_for(lambda: port_open("127.0.0.1", 5672), 180, "rabbitmq-server")
        except ProvisionError:
            raise ProvisionError("rabbitmq-server did not open port 5672 within 180 s; see "
                                 "/var/log/rabbitmq/ for why") from None
        awaited = _run(["rabbitmqctl", "await_startup", "--timeout", "120"])
        if awaited.returncode != 0:
            raise ProvisionError("rabbitmq-server did not finish starting: "
                                 + (awaited.stderr or awaited.stdout).strip()[-500:])
    if not port_open("127.0.0.1", 15672):
        _run(["rabbitmq-plugins", "enable", "rabbitmq_management"])
        wait_for(lambda: port_open("127.0.0.1", 15672), 60, "the RabbitMQ management plugin")
    return LOCAL_AMQP, LOCAL_MANAGEMENT


def stop_local_rabbitmq() -> None:
    if shutil.which("rabbitmqctl") and port_open("127.0.0.1", 5672):
        _run(["rabbitmqctl", "stop"])


# -- MongoDB wire server -------------------------------------------------------------------------
def mongodb_answers(uri: str, timeout_ms: int = 1500) -> bool:
    import pymongo

    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
        return True
    except Exception:  # noqa: BLE001
        return False
    finally:
        client.close()


def ensure_local_ferretdb() -> str:
    port = int(os.environ.get("SCORE_FERRETDB_PORT", "27017"))
    debug_port = int(os.environ.get("SCORE_FERRETDB_DEBUG_PORT", "27080"))
    uri = f"mongodb://127.0.0.1:{port}/"
    state = var_dir() / "ferretdb"
    pid_file = state / "ferretdb.pid"
    if port_open("127.0.0.1", port):
        if mongodb_answers(uri):
            return uri
        raise ProvisionError(
            f"port {port} is taken by something that is not a MongoDB wire server: free it, "
            "set SCORE_FERRETDB_PORT to another port, or set MONGODB_URI to a MongoDB server")
    binary = ferretdb.ensure_binary()
    (state / "data").mkdir(parents=True, exist_ok=True)
    (state / "state").mkdir(parents=True, exist_ok=True)
    log(f"starting FerretDB {ferretdb.VERSION} (SQLite in {state / 'data'}) on 127.0.0.1:{port}")
    with open(state / "ferretdb.log", "ab") as out:
        process = subprocess.Popen(
            [str(binary), "--handler=sqlite", f"--sqlite-url=file:{state / 'data'}/",
             f"--listen-addr=127.0.0.1:{port}", f"--state-dir={state / 'state'}",
             f"--debug-addr=127.0.0.1:{debug_port}", "--telemetry=disable",
             "--log-level=warn"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pid_file.write_text(str(process.pid))
    try:
        wait_for(lambda: process.poll() is None and mongodb_answers(uri, 500), 60, "FerretDB")
    except ProvisionError:
        tail = (state / "ferretdb.log").read_text(errors="replace")[-800:]
        raise ProvisionError(f"FerretDB did not start; its log ends with:\n{tail}") from None
    return uri


def stop_local_ferretdb() -> None:
    pid_file = var_dir() / "ferretdb" / "ferretdb.pid"
    if pid_file.exists():
        stop_pid(int(pid_file.read_text()), "FerretDB")
        pid_file.unlink()


def stop_pid(pid: int, what: str, timeout: float = 15) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    log(f"{what} (pid {pid}) did not stop in {timeout:.0f} s; killing it")
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# -- all together --------------------------------------------------------------------------------
def ensure_servers(detached: bool = True) -> Servers:
    """Find or start RabbitMQ and a MongoDB wire server. ``detached`` keeps containers alive
    after this process exits (for `make run`); tests let testcontainers reap them."""
    from score_common.config import SERVICES

    docker = None

    def use_docker() -> bool:
        nonlocal docker
        if docker is None:
            docker = docker_available()
            if docker and detached:
                os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
        return docker

    if os.environ.get("AMQP_URI"):
        amqp_uri, amqp_mode = os.environ["AMQP_URI"], "environment"
        management = os.environ.get("RABBITMQ_MANAGEMENT_URL")
    elif use_docker():
        (amqp_uri, management), amqp_mode = rabbitmq_container(detached), "container"
    else:
        (amqp_uri, management), amqp_mode = ensure_local_rabbitmq(), "local"

    service_uris = {s: os.environ[f"{s.upper()}_MONGODB_URI"] for s in SERVICES
                    if os.environ.get(f"{s.upper()}_MONGODB_URI")}
    if os.environ.get("MONGODB_URI"):
        mongodb_uri, mongodb_mode = os.environ["MONGODB_URI"], "environment"
    elif len(service_uris) == len(SERVICES):
        mongodb_uri, mongodb_mode = next(iter(service_uris.values())), "environment"
    elif use_docker():
        mongodb_uri, mongodb_mode = mongodb_container(detached), "container"
    else:
        mongodb_uri, mongodb_mode = ensure_local_ferretdb(), "local"
    if mongodb_mode == "environment" and not mongodb_answers(mongodb_uri, 5000):
        raise ProvisionError(f"no MongoDB server answers at {mongodb_uri} (from MONGODB_URI)")
    return Servers(amqp_uri, mongodb_uri, management, amqp_mode, mongodb_mode, service_uris)
