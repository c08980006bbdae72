"""A partner's client (pika): submit a file, print the platform's answer.

    score-partner submit samples/partner-enrollment.json --amqp-uri amqp://bedo:SECRET@host/
    score-partner answers --amqp-uri ...      print (and take) every waiting answer
    score-partner schemas docs/partners/schemas   write the contract's JSON Schemas

The message carries the user_id property, which RabbitMQ refuses unless it is the user the
connection logged in as: that is what proves to the platform who submitted. The routing key
is submission.<your user>; your answers arrive on <namespace>.partner.outcomes.<your user>,
correlated by your message id.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pika

DEFAULT_URI = "amqp://guest:guest@127.0.0.1:5672/"


def _user(amqp_uri: str) -> str:
    return unquote(urlsplit(amqp_uri).username or "guest")


def publish_submission(channel, body: bytes, *, user: str, message_id: str,
                       namespace: str = "score", content_type: str = "application/json") -> None:
    channel.basic_publish(
        exchange=f"{namespace}.partner.submissions",
        routing_key=f"submission.{user}",
        body=body,
        properties=pika.BasicProperties(content_type=content_type, delivery_mode=2,
                                        message_id=message_id, user_id=user),
        mandatory=True,
    )


def wait_for_answer(channel, *, user: str, message_id: str, namespace: str = "score",
                    timeout: float = 30) -> dict | None:
    """Take the answer correlated to message_id from the partner's queue; leave the others."""
    queue = f"{namespace}.partner.outcomes.{user}"
    deadline = time.monotonic() + timeout
    channel.basic_qos(prefetch_count=200)
    for method, properties, body in channel.consume(queue, inactivity_timeout=0.5):
        if method is not None and properties.correlation_id == message_id:
            channel.basic_ack(method.delivery_tag)
            channel.cancel()  # answers we did not take are requeued for their owner
            return json.loads(body)
        if time.monotonic() > deadline:
            channel.cancel()
            return None
    return None


def submit_file(amqp_uri: str, path: str, namespace: str = "score",
                message_id: str | None = None, wait: float = 0) -> dict | None:
    body = Path(path).read_bytes()
    document = json.loads(body)
    message_id = message_id or document.pop("message_id", None) or str(uuid.uuid4())
    body = json.dumps(document).encode()
    user = _user(amqp_uri)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        publish_submission(channel, body, user=user, message_id=message_id, namespace=namespace)
        print(f"submitted {path} as {user}: message id {message_id} (confirmed by the broker)")
        if not wait:
            return None
        answer = wait_for_answer(channel, user=user, message_id=message_id,
                                 namespace=namespace, timeout=wait)
    finally:
        connection.close()
    if answer is None:
        print(f"no answer within {wait:g} s; fetch it later with `score-partner answers`")
    else:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    return answer


def take_answers(amqp_uri: str, namespace: str = "score") -> list[dict]:
    user = _user(amqp_uri)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    answers = []
    try:
        channel = connection.channel()
        while True:
            method, _, body = channel.basic_get(f"{namespace}.partner.outcomes.{user}")
            if method is None:
                break
            answers.append(json.loads(body))
            channel.basic_ack(method.delivery_tag)
    finally:
        connection.close()
    for answer in answers:
        print(json.dumps(answer, ensure_ascii=False))
    return answers


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="score-partner", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    submit = commands.add_parser("submit", help="publish a submission file and wait for its "
                                                "answer")
    submit.add_argument("file")
    submit.add_argument("--message-id", help="default: the file's message_id, else a new UUID")
    submit.add_argument("--wait", type=float, default=30,
                        help="seconds to wait for the answer (0: do not wait)")
    answers = commands.add_parser("answers", help="print and take every waiting answer")
    schemas = commands.add_parser("schemas", help="write the contract's JSON Schemas")
    schemas.add_argument("directory", nargs="?", default="docs/partners/schemas")
    for sub in (submit, answers):
        sub.add_argument("--amqp-uri", default=os.environ.get("PARTNER_AMQP_URI", DEFAULT_URI))
        sub.add_argument("--namespace", default=os.environ.get("SCORE_NAMESPACE", "score"))
    args = parser.parse_args(argv)
    if args.command == "submit":
        answer = submit_file(args.amqp_uri, args.file, namespace=args.namespace,
                             message_id=args.message_id, wait=args.wait)
        return 0 if answer is None or answer.get("outcome") == "accepted" else 2
    if args.command == "answers":
        take_answers(args.amqp_uri, namespace=args.namespace)
        return 0
    from score_enrollment.json_schemas import write_schemas

    for written in write_schemas(Path(args.directory)):
        print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
