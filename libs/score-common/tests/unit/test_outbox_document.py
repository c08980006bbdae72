from score_common.testing import ProbeDocument


def test_recording_marks_the_outbox_pending_and_pruning_clears_it():
    doc = ProbeDocument(id="x")
    doc.add_to_outbox({"event_id": "e1"})
    doc.add_to_outbox({"event_id": "e2"})
    assert doc.outbox_pending and doc.outbox_since is not None
    doc.prune_outbox(["e1"])
    assert [e["event_id"] for e in doc.outbox] == ["e2"] and doc.outbox_pending
    doc.prune_outbox(["e2", "unknown"])
    assert doc.outbox == [] and not doc.outbox_pending and doc.outbox_since is None
