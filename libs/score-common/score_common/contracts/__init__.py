"""Every event contract of the SCORE platform, in one registry all services import.

Importing this package registers the contracts of every producer; a service never defines
an event schema of its own.
"""
from score_common.envelope import EventRegistry

registry = EventRegistry()

# Registration happens on import of each producer's module.
from score_common.contracts import (  # noqa: E402,F401
    coaching, enrollment, notifications, reporting, scheduling,
)

__all__ = ["registry"]
