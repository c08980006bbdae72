from score_common.store import stored_envelope
from score_common.testing import ProbeDocument


def test_recorded_events_wait_for_a_pointer_and_for_publication_until_marked():
    doc = ProbeDocument(id="x")
    doc.add_to_outbox({"event_id": "e1"})
    doc.add_to_outbox({"event_id": "e2"})
    assert doc.unannounced_events == ["e1", "e2"]
    assert [e["event_id"] for e in doc.unpublished_events] == ["e1", "e2"]
    doc.mark_published(["e1", "unknown"])
    assert [e["event_id"] for e in doc.unpublished_events] == ["e2"]
    # publication is the relay's business; the stored outbox changes only on the next save
    assert [e["event_id"] for e in doc.outbox] == ["e1", "e2"]
    doc.keep_in_outbox({"e2"})
    assert [e["event_id"] for e in doc.outbox] == ["e2"]


def test_the_stored_outbox_holds_each_envelope_as_text_and_reads_both_forms_back():
    doc = ProbeDocument(id="x")
    envelope = {"event_id": "e1", "event_type": "probe", "payload": {"at": "2027-03-22",
                                                                     "team": [{"sex": "female"}]}}
    doc.add_to_outbox(envelope)
    assert isinstance(doc.outbox[0]["envelope"], str)
    doc.outbox.append({"event_id": "e0", "event_type": "probe", "payload": {}})  # older form
    assert [stored_envelope(entry) for entry in doc.outbox] == [
        envelope, {"event_id": "e0", "event_type": "probe", "payload": {}}]
