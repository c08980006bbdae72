"""A partner's client: publish a submission file with pika and print what happened.

    score-partner submit samples/partner-enrollment.json

The broker proves who the partner is: the message carries the user_id property, which
RabbitMQ rejects unless it equals the user the connection logged in as.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from urllib.parse import urlsplit

import pika


def submit_file(amqp_uri: str, path: str, namespace: str = "score",
                message_id: str | None = None) -> int:
    with open(path, "rb") as handle:
        body = handle.read()
    document = json.loads(body)
    message_id = message_id or document.pop("message_id", None) or str(uuid.uuid4())
    body = json.dumps(document).encode()
    user = urlsplit(amqp_uri).username or "guest"
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            exchange=f"{namespace}.partner.submissions",
            routing_key=f"submission.{user}",
            body=body,
            properties=pika.BasicProperties(
                content_type="application/json", delivery_mode=2, message_id=message_id,
                user_id=user,
            ),
            mandatory=True,
        )
    finally:
        connection.close()
    print(f"submitted {path} as {user}: message id {message_id} (confirmed by the broker)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="score-partner", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["submit"])
    parser.add_argument("file")
    parser.add_argument("--amqp-uri", default=os.environ.get("PARTNER_AMQP_URI",
                                                             "amqp://guest:guest@127.0.0.1:5672/"))
    parser.add_argument("--message-id")
    args = parser.parse_args(argv)
    return submit_file(args.amqp_uri, args.file, message_id=args.message_id)


if __name__ == "__main__":
    sys.exit(main())
