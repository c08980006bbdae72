"""The notifications service: reminder plans, and (later) their delivery by SMS and email.

Accepts: participant_registered.
Emits: reminders_planned.
"""
from __future__ import annotations

from collections import Counter

from nameko.rpc import rpc

from score_common.envelope import Event
from score_common.messaging.consumer import event_handler
from score_common.messaging.outbox import Outbox
from score_common.service import ScoreService
from score_common.store import AlreadyExists, MongoStore
from score_notifications import domain
from score_notifications.models import Reminder, ReminderPlan
from score_notifications.schemas import ReminderSchema
from score_notifications.store import NotificationsRepository


class NotificationsService(ScoreService):
    name = "notifications"
    store: NotificationsRepository = MongoStore(NotificationsRepository,
                                                documents=[Reminder, ReminderPlan])
    outbox = Outbox(ReminderPlan)

    @event_handler
    def handle_participant_registered(self, event: Event):
        registration = event.payload
        subject_id = registration["registration_id"]
        if self.store.plan(subject_id) is not None:
            return subject_id
        workshop = registration["workshop"]
        # Planned against the event's time, not the clock, so a redelivery plans the same keys.
        planned = domain.plan_workshop_reminders(
            subject_id, workshop["days"], workshop["timezone"], registration["participants"],
            now=event.occurred_at)
        self.store.add_reminders([
            Reminder(id=r.key, subject_id=subject_id, workshop_id=workshop["workshop_id"],
                     recipient_id=r.recipient_id, channel=r.channel, address=r.address,
                     kind=r.kind, due_at=r.due_at, language=r.language)
            for r in planned])
        plan = ReminderPlan(id=subject_id, workshop_id=workshop["workshop_id"],
                            reminder_ids=[r.key for r in planned])
        self.outbox.record(plan, "reminders_planned", {
            "subject_id": subject_id, "workshop_id": workshop["workshop_id"],
            "reminders": len(planned), "channels": dict(Counter(r.channel for r in planned)),
        })
        try:
            self.store.insert(plan)
        except AlreadyExists:
            return subject_id
        self.outbox.publish(plan)
        return subject_id

    @rpc
    def reminders_for(self, subject_id: str) -> list[dict]:
        return ReminderSchema(many=True).dump(self.store.reminders_for(subject_id))


SERVICE = NotificationsService
