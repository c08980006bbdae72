"""Fixtures for every test suite in the repository.

Integration and end-to-end tests run on real servers, provided by the same code as
`make run` (score_devenv.servers): RabbitMQ and a MongoDB wire server from the environment,
from containers, or local (Debian's rabbitmq-server, FerretDB on SQLite). Each test session
gets its own RabbitMQ virtual host; each test its own namespace of queues and its own
databases, so tests never clean up after each other and never touch a running system's data.
"""
# nameko's workers are eventlet green threads; patch before anything imports socket.
import eventlet

eventlet.monkey_patch()

import socket  # noqa: E402
import uuid  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

import pytest  # noqa: E402

RUN_ID = uuid.uuid4().hex[:6]


def pytest_collection_modifyitems(config, items):
    # Anything that asks for the real servers is an integration test.
    for item in items:
        if "servers" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def servers():
    from score_devenv.servers import ensure_servers

    return ensure_servers(detached=False)


@pytest.fixture(scope="session")
def amqp_uri(servers):
    """A RabbitMQ virtual host of this test session's own (when we can make one)."""
    if not servers.management_url:
        yield servers.amqp_uri
        return
    from score_common.broker_admin import BrokerAdmin

    admin = BrokerAdmin(servers.management_url)
    vhost = f"score-test-{RUN_ID}"
    parts = urlsplit(servers.amqp_uri)
    path = admin.create_vhost(vhost, parts.username or "guest")
    yield urlunsplit((parts.scheme, parts.netloc, "/" + path, "", ""))
    admin.delete_vhost(vhost)


@pytest.fixture(scope="session")
def mongodb_cleanup(servers):
    yield
    import pymongo

    client = pymongo.MongoClient(servers.mongodb_uri, serverSelectionTimeoutMS=5000)
    try:
        for name in client.list_database_names():
            if name.startswith(f"t{RUN_ID}_"):
                client.drop_database(name)
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def namespace():
    return f"t{RUN_ID}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def environment(servers, amqp_uri, namespace, mongodb_cleanup):
    """The environment of a service process in this test (one namespace, its own databases)."""

    def make(service: str, **overrides) -> dict:
        env = {
            "AMQP_URI": amqp_uri,
            "MONGODB_URI": servers.service_mongodb_uri(service, f"{namespace}_{service}"),
            "SCORE_NAMESPACE": namespace,
            "SCORE_HTTP_ADDRESS": f"127.0.0.1:{free_port()}",
            "SCORE_RETRY_DELAYS": "0.2,0.4",
            "SCORE_OUTBOX_SWEEP_SECONDS": "0.3",
            "SCORE_MAX_WORKERS": "10",
        }
        env.update({k: str(v) for k, v in overrides.items()})
        return env

    return make


@pytest.fixture
def make_config(environment):
    """nameko config for a service container run inside the test process."""
    from score_common.config import SERVICES, service_config

    def make(service: str, **overrides) -> dict:
        env = environment(service, **overrides)
        # A test's probe service borrows a real service's settings, with its own database.
        config = service_config(service if service in SERVICES else "coaching", env)
        config["MONGODB_DATABASE"] = urlsplit(env["MONGODB_URI"]).path.lstrip("/")
        return config

    return make


@pytest.fixture
def publisher(make_config):
    from score_common.messaging.publisher import AmqpPublisher
    from score_common.messaging.topology import Topology

    config = make_config("enrollment")
    topology = Topology.from_config(config)
    from kombu import Connection

    with Connection(config["AMQP_URI"]) as connection:
        topology.declare(connection)
    return AmqpPublisher(config["AMQP_URI"], topology)


@pytest.fixture
def start_service(container_factory, make_config):
    """Start a service class in this test's namespace; returns its nameko config."""

    def start(service_cls, **overrides) -> dict:
        config = make_config(service_cls.name, **overrides)
        container_factory(service_cls, config).start()
        return config

    return start


@pytest.fixture(scope="session")
def sinks_process():
    """A real SMTP server and a real HTTP stand-in for the SMS provider (Infobip's API), as
    a process of their own (score_devenv.sinks)."""
    import subprocess
    import sys
    import time

    import requests

    from score_devenv.sinks import SinksClient

    smtp_port, sms_port = free_port(), free_port()
    process = subprocess.Popen([sys.executable, "-m", "score_devenv.sinks",
                                "--smtp-port", str(smtp_port), "--sms-port", str(sms_port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = SinksClient(f"http://127.0.0.1:{sms_port}", f"smtp://127.0.0.1:{smtp_port}")
    deadline = time.monotonic() + 30
    while True:
        try:
            client.texts()
            break
        except requests.RequestException:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the mail and SMS sinks did not start")
            time.sleep(0.1)
    yield client
    process.terminate()
    process.wait(10)


@pytest.fixture
def sinks(sinks_process):
    """The sinks, emptied for this test; `sinks.env` points a notifications service at them."""
    sinks_process.reset()
    sinks_process.env = {"SCORE_SMTP_URL": sinks_process.smtp_url,
                         "SCORE_SMS_URL": sinks_process.sms_url}
    return sinks_process
