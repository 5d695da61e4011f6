"""Why a notification was not delivered."""


class DeliveryError(Exception):
    """This attempt failed; a later one may succeed."""


class PermanentError(DeliveryError):
    """No attempt can succeed as things are configured; retrying is pointless."""
