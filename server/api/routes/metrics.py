"""The queue's live gauges for Prometheus (text exposition format 0.0.4), for a company's admins.

Scrape it with the admin's API token as a bearer token; the figures are that admin's company's.
"""

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from server import reports
from server.api.deps import AdminActor, ReadDB
from server.models import utcnow

router = APIRouter(prefix="/api/v1/metrics", tags=["metrics"])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _sample(name: str, labels: dict[str, str], value: float) -> str:
    pairs = ",".join(f'{key}="{escape_label_value(text)}"' for key, text in labels.items())
    return f"{name}{{{pairs}}} {value:g}"


def _gauge(name: str, help_text: str, samples: list[str]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", *samples]


def exposition(gauges: reports.Gauges) -> str:
    """The gauges as Prometheus text; ``group=""`` stands for requests without a group."""
    open_requests = [_sample("sosqueue_open_requests", {"status": status.value, "group": group}, count)
                     for (status, group), count in gauges.open_requests.items()]
    oldest = [_sample("sosqueue_oldest_waiting_seconds", {"group": group}, seconds)
              for group, seconds in gauges.oldest_waiting_seconds.items()]
    lines = [
        *_gauge("sosqueue_open_requests", "Open service requests, by status and group.", open_requests),
        *_gauge("sosqueue_oldest_waiting_seconds",
                "Age of the oldest request that nobody has started yet (status new), by group; 0 when none waits.",
                oldest),
    ]
    return "\n".join(lines) + "\n"


@router.get("", response_class=PlainTextResponse, responses={200: {"content": {CONTENT_TYPE: {}}}})
def metrics(actor: AdminActor, session: ReadDB) -> PlainTextResponse:
    """The company's open requests per status and group, and the oldest waiting age per group (admins)."""
    gauges = reports.live_gauges(session, company_id=actor.company_id, now=utcnow())
    return PlainTextResponse(exposition(gauges), media_type=CONTENT_TYPE)
