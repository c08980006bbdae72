"""RabbitMQ's management HTTP API, for what AMQP cannot do: users and their permissions.

A partner's RabbitMQ user may write only to the submissions exchange, only with routing key
`submission.<partner>` (a topic permission), read only its own outcome queue, and configure
nothing. RabbitMQ itself refuses a message whose `user_id` property is not the user that
published it, so the user id the intake sees is proven by the broker.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from score_common.messaging.topology import Topology


class BrokerAdminError(RuntimeError):
    pass


@dataclass(frozen=True)
class PartnerGrant:
    configure: str
    write: str
    read: str
    topic_exchange: str
    topic_write: str
    topic_read: str


def partner_grant(topology: Topology, partner: str) -> PartnerGrant:
    exact = lambda name: f"^{re.escape(name)}$"  # noqa: E731
    return PartnerGrant(
        configure="^$",
        write=exact(topology.submissions_exchange_name),
        read=exact(topology.partner_outcome_queue_name(partner)),
        topic_exchange=topology.submissions_exchange_name,
        topic_write=exact(f"submission.{partner}"),
        topic_read="^$",
    )


class BrokerAdmin:
    def __init__(self, management_url: str, vhost: str = "/", timeout: float = 10):
        parts = urlsplit(management_url)
        self.base = urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port
                                                                  else ""), "", "", ""))
        self.vhost = vhost
        self.session = requests.Session()
        self.session.auth = (parts.username or "guest", parts.password or "guest")
        self.timeout = timeout

    @classmethod
    def for_amqp_uri(cls, management_url: str, amqp_uri: str) -> "BrokerAdmin":
        path = urlsplit(amqp_uri).path
        vhost = requests.utils.unquote(path[1:]) if len(path) > 1 else "/"
        return cls(management_url, vhost)

    def _call(self, method: str, path: str, **kwargs):
        response = self.session.request(method, self.base + path, timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            raise BrokerAdminError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    @property
    def _v(self) -> str:
        return quote(self.vhost, safe="")

    def ensure_partner_user(self, topology: Topology, partner: str, password: str) -> None:
        """Create or update the partner's user with exactly the partner's permissions."""
        user = quote(partner, safe="")
        self._call("PUT", f"/api/users/{user}", json={"password": password, "tags": ""})
        grant = partner_grant(topology, partner)
        self._call("PUT", f"/api/permissions/{self._v}/{user}", json={
            "configure": grant.configure, "write": grant.write, "read": grant.read})
        self._call("PUT", f"/api/topic-permissions/{self._v}/{user}", json={
            "exchange": grant.topic_exchange, "write": grant.topic_write,
            "read": grant.topic_read})

    def create_vhost(self, vhost: str, user: str) -> str:
        """A virtual host of its own (for a test session or a benchmark), with `user` granted
        everything in it; returns amqp_uri's equivalent path segment."""
        name = quote(vhost, safe="")
        self._call("PUT", f"/api/vhosts/{name}")
        self._call("PUT", f"/api/permissions/{name}/{quote(user, safe='')}",
                   json={"configure": ".*", "write": ".*", "read": ".*"})
        return name

    def delete_vhost(self, vhost: str) -> None:
        self.session.delete(f"{self.base}/api/vhosts/{quote(vhost, safe='')}", timeout=30)

    def delete_user(self, name: str) -> None:
        response = self.session.delete(f"{self.base}/api/users/{quote(name, safe='')}",
                                       timeout=self.timeout)
        if response.status_code not in (204, 404):
            raise BrokerAdminError(f"deleting user {name}: {response.status_code}")

    def queue(self, name: str) -> dict | None:
        response = self.session.get(f"{self.base}/api/queues/{self._v}/{quote(name, safe='')}",
                                    timeout=self.timeout)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise BrokerAdminError(f"queue {name}: {response.status_code}")
        return response.json()
