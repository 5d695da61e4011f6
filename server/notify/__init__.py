"""Notifications of new, assigned and escalated service requests: email and signed webhooks.

``install_outbox`` makes every write that files, assigns or escalates a request also store the
notifications it causes (the outbox); ``deliver_forever`` sends them, retrying with backoff.
How receivers check a webhook's signature: see ``server.notify.webhook`` and its
``verify_signature``.
"""

from server.notify.outbox import Wakeup, install_outbox
from server.notify.webhook import verify_signature
from server.notify.worker import deliver_due, deliver_forever

__all__ = ["Wakeup", "deliver_due", "deliver_forever", "install_outbox", "verify_signature"]
