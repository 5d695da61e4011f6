"""The server's public addresses for a request: one home for the paths that leave the server.

``base`` is ``Settings.public_url`` when set, else the address the caller reached (``request.base_url``).
"""

from fastapi import Request

from sosqueue import codes

#: The dashboard's page of one request (``server/web/routes/requests.py``).
SUPPORTER_PATH = "/requests/{code}"
#: The page that tells a customer how to get the company's support module and start it with this code.
END_CUSTOMER_PATH = "/join/{code}"


def public_base(public_url: str, request: Request | None = None) -> str:
    """The server's address without a trailing slash; "" when neither is known."""
    if public_url:
        return public_url.rstrip("/")
    return str(request.base_url).rstrip("/") if request is not None else ""


def supporter_link(base: str, code: str) -> str:
    return base + SUPPORTER_PATH.format(code=codes.display(code))


def end_customer_link(base: str, code: str) -> str:
    return base + END_CUSTOMER_PATH.format(code=codes.display(code))
