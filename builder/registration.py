"""Register a module with a running queue to get its id and token."""

import requests

from sosqueue.errors import ConfigError, NetworkError
from builder.module_config import ModuleSpec


def register(spec: ModuleSpec, *, server: str, admin_token: str) -> tuple[str, str]:
    """Create the module through the queue's API; returns (id, token)."""
    body = {"name": spec.name, "group": spec.group, "assignment": spec.assignment}
    try:
        response = requests.post(
            f"{server.rstrip('/')}/api/v1/modules", json=body,
            headers={"Authorization": f"Bearer {admin_token}"}, timeout=15,
        )
    except requests.exceptions.RequestException as error:
        raise NetworkError(f"cannot reach the queue at {server} ({type(error).__name__}); check --server") from None
    if response.status_code == 201:
        created = response.json()
        return created["id"], created["token"]
    try:
        detail = response.json().get("detail", response.reason)
    except ValueError:
        detail = response.reason
    if response.status_code in (401, 403):
        raise ConfigError(f"the queue refused the admin token ({detail}); pass an admin's API token with --token")
    raise NetworkError(f"the queue refused to register the module ({response.status_code}: {detail})")
