"""Where email and SMS go on a developer's machine and in tests: a real SMTP server
(aiosmtpd) that keeps what it receives, and a real HTTP server that speaks the part of
Infobip's SMS API the platform uses (send, look up, delivery reports pushed to the
notifyUrl). Both keep every message in memory and, when given a directory, as files.

The SMS stand-in can be told to misbehave, as a provider does: reject a number for good,
answer 503 for a while, or report a message undeliverable after accepting it; the mail
sink can refuse a mailbox. Tests run both as a process of their own and read and steer
them over HTTP (`SinksClient`): /_sent, /_mail, /_control, /_reset.

    python -m score_devenv.sinks --smtp-port 8025 --sms-port 8106 --dir var/outbox
"""
from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests


class MailSink:
    """An SMTP server on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self, port: int = 0, directory: Path | None = None):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.refuse: set[str] = set()  # addresses answered 550
        self.lock = threading.Lock()
        self.directory = directory
        sink = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if address in sink.refuse:
                    return "550 5.1.1 no such mailbox"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                with sink.lock:  # parsed when read: the sink keeps up with a burst
                    sink.messages.append(envelope.content)
                if sink.directory:
                    sink.directory.mkdir(parents=True, exist_ok=True)
                    (sink.directory / f"{time.time():.6f}.eml").write_bytes(envelope.content)
                return "250 Message accepted for delivery"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port or _free_port())
        self.port = self.controller.port

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> "MailSink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def parsed(self) -> list:
        with self.lock:
            raw = list(self.messages)
        return [message_from_bytes(content, policy=policy.default) for content in raw]


class SmsStandIn:
    """An HTTP server with Infobip's SMS endpoints, keeping what it is sent."""

    def __init__(self, port: int = 0, api_key: str = "local-dev-key",
                 directory: Path | None = None, report_delay: float = 0.05,
                 mail: MailSink | None = None):
        self.mail = mail
        self.api_key = api_key
        self.directory = directory
        self.report_delay = report_delay
        self.sent: dict[str, dict] = {}  # messageId -> message
        self.requests = 0
        self.reject: set[str] = set()         # numbers refused in the answer (REJECTED)
        self.undeliverable: set[str] = set()  # accepted, then reported UNDELIVERABLE
        self.outage = 0                       # answer the next n sends with 503
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _json(self, status: int, body) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") == f"App {stand_in.api_key}":
                    return True
                self._json(401, {"requestError": {"serviceException": {
                    "messageId": "UNAUTHORIZED", "text": "Invalid login details"}}})
                return False

            def _body(self):
                return json.loads(self.rfile.read(int(self.headers["Content-Length"] or 0))
                                  or b"{}")

            def do_POST(self):
                path = urlsplit(self.path).path
                if path == "/_control":
                    return self._json(200, stand_in.control(self._body()))
                if path == "/_reset":
                    return self._json(200, stand_in.reset())
                if path != "/sms/2/text/advanced":
                    return self._json(404, {})
                if not self._authorised():
                    return None
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                return self._json(*stand_in.take(body))

            def do_GET(self):
                parts = urlsplit(self.path)
                if parts.path == "/sms/1/logs":
                    if not self._authorised():
                        return None
                    wanted = parse_qs(parts.query).get("messageId", [None])[0]
                    with stand_in.lock:
                        found = stand_in.sent.get(wanted)
                    results = [{"messageId": wanted, "to": found["to"], "status": {
                        "groupName": found["group"], "name": found["group"]}}] if found else []
                    return self._json(200, {"results": results})
                if parts.path == "/_sent":
                    with stand_in.lock:
                        return self._json(200, {"requests": stand_in.requests,
                                                "messages": list(stand_in.sent.values())})
                if parts.path == "/_mail" and stand_in.mail is not None:
                    return self._json(200, [_mail_json(m) for m in stand_in.mail.parsed()])
                return self._json(404, {})

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "SmsStandIn":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def control(self, body: dict) -> dict:
        with self.lock:
            self.reject.update(body.get("reject", []))
            self.undeliverable.update(body.get("undeliverable", []))
            self.outage = body.get("outage", self.outage)
        if self.mail is not None:
            self.mail.refuse.update(body.get("refuse_mail", []))
        return {"ok": True}

    def reset(self) -> dict:
        with self.lock:
            self.sent.clear()
            self.reject.clear()
            self.undeliverable.clear()
            self.outage = self.requests = 0
        if self.mail is not None:
            with self.mail.lock:
                self.mail.messages.clear()
                self.mail.refuse.clear()
        return {"ok": True}

    def take(self, body: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests += 1
            if self.outage > 0:
                self.outage -= 1
                return 503, {"requestError": {"serviceException": {
                    "messageId": "SERVICE_UNAVAILABLE", "text": "try again later"}}}
        answers, reports = [], []
        for message in body.get("messages", []):
            for destination in message.get("destinations", []):
                to = destination["to"]
                message_id = destination.get("messageId") or uuid.uuid4().hex
                rejected = ("+" + to.lstrip("+")) in self.reject or to in self.reject
                group = "REJECTED" if rejected else "PENDING"
                status = {"groupId": 5 if rejected else 1, "groupName": group,
                          "name": "REJECTED_DESTINATION" if rejected else "PENDING_ENROUTE",
                          "description": "Destination rejected" if rejected
                          else "Message sent to next instance"}
                answers.append({"to": to, "messageId": message_id, "status": status})
                if rejected:
                    continue
                record = {"messageId": message_id, "to": "+" + to.lstrip("+"),
                          "text": message["text"], "from": message.get("from"),
                          "group": "PENDING", "at": time.time()}
                with self.lock:
                    self.sent[message_id] = record
                if self.directory:
                    self.directory.mkdir(parents=True, exist_ok=True)
                    with open(self.directory / "sms.jsonl", "a") as out:
                        out.write(json.dumps(record) + "\n")
                if message.get("notifyUrl"):
                    reports.append((message["notifyUrl"], record))
        if reports:
            threading.Thread(target=self._report, args=(reports,), daemon=True).start()
        return 200, {"bulkId": uuid.uuid4().hex, "messages": answers}

    def _report(self, reports) -> None:
        time.sleep(self.report_delay)
        for url, record in reports:
            failed = record["to"] in self.undeliverable
            group = "UNDELIVERABLE" if failed else "DELIVERED"
            with self.lock:
                record["group"] = group
            body = {"results": [{
                "messageId": record["messageId"], "to": record["to"].lstrip("+"),
                "status": {"groupName": group, "name": group + "_TO_HANDSET" if not failed
                           else "UNDELIVERABLE_NOT_DELIVERED",
                           "description": "Message delivered to handset" if not failed
                           else "Message sent, not delivered"},
                "error": {"id": 1 if failed else 0, "groupName": "HANDSET_ERRORS" if failed
                          else "OK", "description": "Unknown subscriber" if failed
                          else "No Error", "permanent": failed}}]}
            try:
                requests.post(url, json=body, timeout=5)
            except requests.RequestException:
                pass  # the real provider retries later; the stand-in does not

    def texts_to(self, number: str) -> list[dict]:
        with self.lock:
            return [m for m in self.sent.values() if m["to"] == number]


def _mail_json(message) -> dict:
    parts = {"to": str(message["To"]), "from": str(message["From"]),
             "subject": str(message["Subject"]), "message_id": str(message["Message-ID"]),
             "text": None, "html": None, "attachments": []}
    for part in message.walk():
        if part.get_content_maintype() == "multipart":
            continue
        if part.get_filename():
            parts["attachments"].append({
                "filename": part.get_filename(), "content_type": part.get_content_type(),
                "content": part.get_content() if part.get_content_maintype() == "text"
                else None})
        elif part.get_content_type() == "text/plain":
            parts["text"] = part.get_content()
        elif part.get_content_type() == "text/html":
            parts["html"] = part.get_content()
    return parts


class SinksClient:
    """A test's (or a developer's) handle on a running sinks process."""

    def __init__(self, sms_url: str, smtp_url: str):
        self.sms_url = sms_url
        self.smtp_url = smtp_url

    def texts(self) -> list[dict]:
        return requests.get(f"{self.sms_url}/_sent", timeout=120).json()["messages"]

    def sms_requests(self) -> int:
        return requests.get(f"{self.sms_url}/_sent", timeout=5).json()["requests"]

    def mail(self) -> list[dict]:
        return requests.get(f"{self.sms_url}/_mail", timeout=120).json()

    def control(self, **settings) -> None:
        requests.post(f"{self.sms_url}/_control", json=settings, timeout=5).raise_for_status()

    def reset(self) -> None:
        requests.post(f"{self.sms_url}/_reset", json={}, timeout=5).raise_for_status()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smtp-port", type=int, default=8025)
    parser.add_argument("--sms-port", type=int, default=8106)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args(argv)
    mail = MailSink(args.smtp_port, args.dir / "mail" if args.dir else None).start()
    sms = SmsStandIn(args.sms_port, directory=args.dir, mail=mail).start()
    print(f"mail sink {mail.url}, SMS stand-in {sms.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        mail.stop()
        sms.stop()


if __name__ == "__main__":
    raise SystemExit(main())
