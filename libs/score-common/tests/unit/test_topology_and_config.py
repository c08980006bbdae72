import pytest

from score_common.config import ConfigError, service_config
from score_common.messaging.topology import SUBSCRIPTIONS, Topology, UnknownConsumer


def test_each_subscription_gets_its_queue_bound_to_its_events():
    topology = Topology("ns")
    sub = topology.subscription("scheduling", "handle_enrollment_accepted")
    queue = topology.subscription_queue(sub)
    assert queue.name == "ns.scheduling.handle_enrollment_accepted"
    assert [b.routing_key for b in queue.bindings] == ["enrollment.enrollment_accepted"]
    assert {b.exchange.name for b in queue.bindings} == {"ns.events"}


def test_retry_queues_wait_then_return_to_their_own_queue_only():
    topology = Topology("ns", retry_delays=(1, 5, 5))
    retries = topology.retry_queues("ns.q")
    assert [q.name for q in retries] == ["ns.q.retry.1000ms", "ns.q.retry.5000ms"]
    args = retries[1].queue_arguments
    assert args["x-message-ttl"] == 5000
    assert args["x-dead-letter-exchange"] == ""  # the default exchange: straight to ns.q
    assert args["x-dead-letter-routing-key"] == "ns.q"


def test_quorum_queues_dead_letter_at_least_once():
    args = Topology("ns", queue_type="quorum").retry_queues("ns.q")[0].queue_arguments
    assert args["x-queue-type"] == "quorum"
    assert args["x-dead-letter-strategy"] == "at-least-once"


def test_every_consumer_queue_has_retry_and_dead_queues():
    topology = Topology("ns", retry_delays=(1,))
    names = {q.name for q in topology.all_queues()}
    for queue in topology.consumer_queues():
        assert {queue.name, f"{queue.name}.retry.1000ms", f"{queue.name}.dead"} <= names
    assert len(topology.consumer_queues()) == len(SUBSCRIPTIONS) + 1  # + partner intake


def test_an_undeclared_handler_is_refused_with_how_to_fix_it():
    with pytest.raises(UnknownConsumer, match="SUBSCRIPTIONS"):
        Topology().subscription("scheduling", "handle_something_new")


def test_config_defaults_and_database_from_the_uri():
    config = service_config("reporting", {})
    assert config["MONGODB_DATABASE"] == "score_reporting"
    assert config["WEB_SERVER_ADDRESS"] == "127.0.0.1:8104"
    assert config["SCORE_RETRY_DELAYS"] == (1.0, 5.0, 30.0)
    named = service_config("reporting", {"MONGODB_URI": "mongodb://db:27017/elsewhere"})
    assert named["MONGODB_DATABASE"] == "elsewhere"


@pytest.mark.parametrize("env, message", [
    ({"SCORE_RETRY_DELAYS": "1,soon"}, "SCORE_RETRY_DELAYS"),
    ({"SCORE_RETRY_DELAYS": "1,-2"}, "positive"),
    ({"SCORE_QUEUE_TYPE": "stream"}, "SCORE_QUEUE_TYPE"),
    ({"SCORE_MAX_WORKERS": "many"}, "SCORE_MAX_WORKERS"),
])
def test_bad_configuration_says_which_variable_and_why(env, message):
    with pytest.raises(ConfigError, match=message):
        service_config("enrollment", env)


def test_an_unknown_service_is_refused():
    with pytest.raises(ConfigError, match="unknown service"):
        service_config("billing", {})
