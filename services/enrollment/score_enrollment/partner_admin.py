"""`score-partner-admin`: provision implementing partners (for programme staff and ops).

    score-partner-admin add bedo --name "BEDO" --kind foundation
    score-partner-admin issue-key bedo            a new HTTP API key (shown once)
    score-partner-admin revoke-key <key id>
    score-partner-admin list
    score-partner-admin deactivate bedo

`add` registers the partner with the enrollment service (over RPC: the service must be
running), creates its RabbitMQ user with only its own permissions (management API), declares
its answer queue and issues its first API key. It prints the credentials once; only a digest
of the API key is stored. Running it again updates the name and kind and sets a new password.

Environment: AMQP_URI (the platform's own broker user and virtual host), SCORE_NAMESPACE,
RABBITMQ_MANAGEMENT_URL (http://user:password@host:15672).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from urllib.parse import quote, urlsplit, urlunsplit

from kombu import Connection
from nameko.standalone.rpc import ClusterRpcProxy

from score_common.broker_admin import BrokerAdmin
from score_common.messaging.topology import Topology


def partner_amqp_uri(platform_amqp_uri: str, partner: str, password: str) -> str:
    parts = urlsplit(platform_amqp_uri)
    netloc = f"{quote(partner, safe='')}:{quote(password, safe='')}@{parts.hostname}" + (
        f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def provision_partner(amqp_uri: str, management_url: str, partner: str, name: str, kind: str,
                      *, namespace: str = "score", password: str | None = None,
                      api_key: bool = True, contact_email: str | None = None) -> dict:
    config = {"AMQP_URI": amqp_uri}
    with ClusterRpcProxy(config, timeout=30) as cluster:
        registered = cluster.enrollment.register_partner(partner, name, kind, contact_email)
        key = cluster.enrollment.issue_api_key(partner, "first key") if api_key else None
    topology = Topology(namespace)
    password = password or secrets.token_urlsafe(24)
    BrokerAdmin.for_amqp_uri(management_url, amqp_uri).ensure_partner_user(
        topology, partner, password)
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        topology.outcomes_exchange(channel).declare()
        topology.partner_outcome_queue(partner)(channel).declare()
    return {
        "partner": registered,
        "amqp_uri": partner_amqp_uri(amqp_uri, partner, password),
        "submit_to": {"exchange": topology.submissions_exchange_name,
                      "routing_key": f"submission.{partner}"},
        "answers_from": topology.partner_outcome_queue_name(partner),
        "api_key": key["api_key"] if key else None,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="score-partner-admin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="register a partner and its broker user")
    add.add_argument("partner", help="partner code: lowercase, also its RabbitMQ user name")
    add.add_argument("--name", required=True)
    add.add_argument("--kind", required=True)
    add.add_argument("--email", help="who hears that an enterprise's report is ready")
    add.add_argument("--password", help="its RabbitMQ password (default: generated)")
    add.add_argument("--no-api-key", action="store_true")
    issue = commands.add_parser("issue-key", help="a new HTTP API key for a partner")
    issue.add_argument("partner")
    issue.add_argument("--label")
    revoke = commands.add_parser("revoke-key", help="revoke an API key by its id")
    revoke.add_argument("key_id")
    commands.add_parser("list", help="every partner")
    deactivate = commands.add_parser("deactivate", help="refuse a partner's submissions")
    deactivate.add_argument("partner")
    args = parser.parse_args(argv)

    amqp_uri = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    namespace = os.environ.get("SCORE_NAMESPACE", "score")
    if args.command == "add":
        management = os.environ.get("RABBITMQ_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672")
        result = provision_partner(amqp_uri, management, args.partner, args.name, args.kind,
                                   namespace=namespace, password=args.password,
                                   api_key=not args.no_api_key, contact_email=args.email)
        print(json.dumps(result, indent=2))
        print("Hand these credentials to the partner now: they are not shown again.",
              file=sys.stderr)
        return 0
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=30) as cluster:
        if args.command == "issue-key":
            print(json.dumps(cluster.enrollment.issue_api_key(args.partner, args.label),
                             indent=2))
        elif args.command == "revoke-key":
            revoked = cluster.enrollment.revoke_api_key(args.key_id)
            print("revoked" if revoked else "no live key with that id")
            return 0 if revoked else 1
        elif args.command == "list":
            for partner in cluster.enrollment.list_partners():
                state = "active" if partner["active"] else "inactive"
                print(f"{partner['partner_id']:<24} {state:<9} {partner['kind']:<22} "
                      f"{partner['name']}")
        elif args.command == "deactivate":
            print(json.dumps(cluster.enrollment.deactivate_partner(args.partner), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
