"""Notifications against a real SMTP server and a real HTTP stand-in for the SMS provider.

The service runs on a clock set to a chosen instant (T0), so its own timer sends what is due
then. Later moments are reached by a second dispatcher in the test process, swept at chosen
instants over the same database and sinks: the way to see a reminder go at its local hour,
or to kill a dispatcher between a send and its record.
"""
from datetime import datetime, timezone

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from score_common.store import utcnow
from score_notifications.dispatcher import Dispatcher
from score_notifications.mail import SmtpMail
from score_notifications.service import NotificationsService
from score_notifications.sms import InfobipSms
from score_notifications.store import NotificationsRepository
from score_notifications.templates import Templates

T0 = datetime(2027, 3, 1, 3, 0, tzinfo=timezone.utc)  # 10:00 WIB, three weeks ahead


def offset_to(moment: datetime) -> float:
    return (moment - utcnow()).total_seconds() / 86400


@pytest.fixture
def notifications(start_service, sinks):
    """(config, rpc proxy, make_dispatcher) for a notifications service whose clock is T0."""
    config = start_service(NotificationsService, SCORE_CLOCK_OFFSET_DAYS=offset_to(T0),
                           **sinks.env)

    def make_dispatcher(reports: bool = True) -> Dispatcher:
        """reports=False: the provider is given no callback, so no delivery report comes."""
        notify = (f"http://{config['WEB_SERVER_ADDRESS']}/notifications/sms/reports/"
                  f"{config['SCORE_CALLBACK_SECRET']}") if reports else None
        return Dispatcher(NotificationsRepository("notifications"),
                          InfobipSms(sinks.sms_url, config["SCORE_SMS_API_KEY"], "SCORE", notify),
                          SmtpMail(sinks.smtp_url, config["SCORE_MAIL_FROM"]), Templates())

    with ClusterRpcProxy(config) as cluster:
        yield config, cluster.notifications, make_dispatcher
