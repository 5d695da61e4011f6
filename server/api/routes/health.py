"""Liveness and readiness."""

from fastapi import APIRouter
from sqlalchemy import text

from server.api.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    """The process is up (does not touch the database)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(state: StateDep) -> dict:
    """The process can reach its database."""
    with state.db.read() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok", "database": state.db.engine.dialect.name, "watchers": state.broker.watchers}
