"""Rows to public API models."""

from datetime import datetime

from sosqueue import codes
from server.actors import actor_public
from server.event_ids import EventIds
from server.lifecycle import CUSTOMER
from server.models import RequestEvent, ServiceRequest
from server.queue import effective_status
from server.schemas import EventPublic, ServiceRequestPublic


def request_public(request: ServiceRequest, now: datetime, *, staff: bool = True) -> ServiceRequestPublic:
    """The request as the API shows it; to a customer's or a module's token (not ``staff``), without the
    assignee's email address."""
    parties = {p.party for p in request.participants}
    return ServiceRequestPublic(
        code=codes.display(request.code),
        status=effective_status(request, now),
        description=request.description,
        end_customer={"name": request.end_customer_name, "email": request.end_customer_email},
        group=request.group.name if request.group else None,
        topic=request.topic,
        waiting_message=request.waiting_message,
        assignee={"id": request.assignee.id, "email": request.assignee.email if staff else None}
        if request.assignee else None,
        source=request.source,
        session={"customer_joined": CUSTOMER in parties, "experts_joined": len(parties - {CUSTOMER})},
        diagnostics=request.diagnostics,
        created_at=request.created_at,
        valid_until=request.valid_until,
        closed_at=request.closed_at,
        closed_by=actor_public(request.closed_by),
    )


def event_public(event: RequestEvent, ids: EventIds) -> EventPublic:
    return EventPublic(
        id=ids.public(event.company_id, event.id),
        type=event.type,
        code=codes.display(event.code),
        status=event.status,
        actor=actor_public(event.actor),
        data=event.data or {},
        created_at=event.created_at,
    )
