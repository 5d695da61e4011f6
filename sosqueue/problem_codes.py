"""The ``code`` of the queue's problem answers (``application/problem+json``) that the agent acts on."""

ALREADY_CLAIMED = "already_claimed"  # a manual request's code was used on another computer already
