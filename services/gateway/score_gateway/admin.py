"""`score-users`: the edge's users (for ops).

    score-users add rina --role coordinator            asks for the password
    score-users add siti --role trainer --trainer-id trn-siti
    score-users add bedo-staff --role partner --partner-id bedo

Talks to the running gateway over RPC. Environment: AMQP_URI (default the local broker).
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys

from nameko.standalone.rpc import ClusterRpcProxy

from score_common.errors import Refused
from score_gateway.models import ROLES


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="score-users", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create a user, or reset their password and role")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--trainer-id")
    add.add_argument("--partner-id")
    add.add_argument("--password", help="default: asked for (never echoed)")
    args = parser.parse_args(argv)
    password = args.password or os.environ.get("SCORE_USER_PASSWORD") or getpass.getpass(
        f"password for {args.username}: ")
    config = {"AMQP_URI": os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")}
    with ClusterRpcProxy(config, timeout=30) as cluster:
        try:
            created = cluster.gateway.create_user(args.username, password, args.role,
                                                  trainer_id=args.trainer_id,
                                                  partner_id=args.partner_id)
        except Refused as refused:
            for field, reasons in refused.errors.items():
                print(f"{field}: {'; '.join(reasons)}", file=sys.stderr)
            return 2
    print(f"{created['username']} ({created['role']}) can now sign in: POST /api/v1/tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
