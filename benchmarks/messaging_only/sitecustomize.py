"""`intake_throughput.py --messaging-only`: the enrollment service with its intake replaced.

Loaded (as Python loads any sitecustomize on its path) only into the service processes that
benchmark starts. Every submission is answered as accepted and announced with an
`enrollment_accepted` event built from the contract's sample, through the service's own
batch consumer, answer publisher and outbox relay, but nothing is validated and nothing is
written to the database: what intake would cost if only its messaging were left.
"""
import os

if os.environ.get("SCORE_BENCH_MESSAGING_ONLY"):
    import eventlet

    eventlet.monkey_patch()  # as nameko's runner does, before anything opens a socket

    import uuid

    import score_enrollment.intake as intake
    from score_common.contracts import registry
    from score_common.store import utcnow

    contract = registry.contract("enrollment_accepted")
    sample = registry.build("enrollment_accepted", contract.sample, producer=contract.producer)

    def messaging_only(self, receipts):
        envelopes = [{**sample, "event_id": str(uuid.uuid4()),
                      "correlation_id": receipt.correlation_id} for receipt in receipts]
        self.outbox.publish_envelopes(envelopes)
        return [intake.Answer({
            "schema_version": 1, "message_id": receipt.message_id,
            "partner_id": receipt.partner_id, "outcome": "accepted",
            "enrollment_id": envelope["payload"]["enrollment_id"],
            "enterprise_id": envelope["payload"]["enterprise"]["enterprise_id"],
            "status": "accepted", "errors": {}, "warnings": [], "channel": receipt.channel,
            "received_at": receipt.received_at.isoformat(),
            "answered_at": utcnow().isoformat(), "replayed": False})
            for receipt, envelope in zip(receipts, envelopes)]

    intake.Intake.submit_many = messaging_only
