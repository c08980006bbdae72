import socket

from score_common.service import check_health


class UnreachableStore:
    def ping(self):
        raise ConnectionError("No servers found yet")


class Store:
    def ping(self):
        return 1.5


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends


def test_health_names_each_failing_dependency():
    report = check_health("enrollment", UnreachableStore(),
                          f"amqp://guest:guest@127.0.0.1:{closed_port()}/")
    assert report["status"] == "unavailable"
    assert report["checks"]["mongodb"] == {"ok": False, "error": "No servers found yet"}
    assert report["checks"]["rabbitmq"]["ok"] is False
    assert report["checks"]["rabbitmq"]["error"]


def test_health_is_ok_only_when_every_check_is():
    report = check_health("enrollment", Store(), f"amqp://guest:guest@127.0.0.1:{closed_port()}/")
    assert report["checks"]["mongodb"] == {"ok": True, "latency_ms": 1.5}
    assert report["status"] == "unavailable"
