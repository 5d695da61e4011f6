"""Rows of the caller's company by their id from an address, a form or an API path."""

import uuid

from sqlalchemy.orm import Session

from server.queue import NotFound


def company_row(session: Session, model, row_id: str, *, company_id: str, what: str):
    """The ``model`` row with ``row_id`` in the company; anything else (another company's, a
    malformed id) is NotFound, worded like the API: "no <what> with this id in your company"."""
    try:
        uuid.UUID(row_id)
    except ValueError:
        row = None
    else:
        row = session.get(model, row_id)
    if row is None or row.company_id != company_id:
        raise NotFound(f"no {what} with this id in your company")
    return row
