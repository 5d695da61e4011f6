"""A module's registration with the queue: made once, then kept next to the config and reused.

The first build registers the module (:func:`register`) and writes its id and token into the
*identity file* beside the config (``module.toml`` → ``module.identity.toml``, mode 0600,
written atomically); every later build, for any platform or version, reads them back
(:func:`read_identity`). ``sosqueue build --module ID`` takes a module registered before: the
queue shows an admin its current token without rotating it (:func:`fetch`). The identity
file also remembers the last version built, so that versions never go down, and the queue's
public update key (:mod:`sosqueue.updates`), so that a build that does not contact the queue
still stamps it; every build that contacts the queue takes the key afresh.
"""

import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sosqueue import updates
from sosqueue.errors import ConfigError, NetworkError, NotFoundError, OutputError
from builder.module_config import ModuleSpec

if TYPE_CHECKING:
    import requests

#: What a module id looks like (the agent's own rule: it names the agent's data folder).
MODULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class Identity:
    """A module's registration as the identity file keeps it."""

    module_id: str
    token: str
    server: str = ""  # where it is registered
    version: str = ""  # the last version built
    update_key: str = ""  # the server's public update key; "" from a server without updates

    def to_toml(self) -> str:
        lines = ["# This module's registration, written by sosqueue build: later builds reuse it.",
                 "# Keep it next to the config, and secret (it holds the module's token).",
                 f"id = {_quote(self.module_id)}", f"token = {_quote(self.token)}",
                 f"server = {_quote(self.server)}"]
        if self.version:
            lines.append(f"version = {_quote(self.version)}")
        if self.update_key:
            lines += ["# The queue's public key for agent updates (not secret).",
                      f"update_key = {_quote(self.update_key)}"]
        return "\n".join(lines) + "\n"


def identity_path(config_path: Path) -> Path:
    """Where the identity file of the config at ``config_path`` lives: beside it."""
    return config_path.with_name(f"{config_path.stem}.identity.toml")


def read_identity(path: Path) -> Identity | None:
    """The registration kept at ``path``, or ``None`` if there is none yet."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read {path} ({error}); delete it and build with --module ID to take the registration again") from None
    values = {key: data.get(key, "") for key in ("id", "token", "server", "version", "update_key")}
    if not all(isinstance(value, str) for value in values.values()) or not MODULE_ID.fullmatch(values["id"]) \
            or not values["token"]:
        raise ConfigError(f"{path} is damaged (no id and token); delete it and build with --module ID to take the registration again")
    if not _is_key(values["update_key"]):
        raise ConfigError(f"{path}: its update_key is malformed; delete that line and build with --server URL "
                          "--token ADMIN_TOKEN to take the key from the queue again")
    return Identity(module_id=values["id"], token=values["token"], server=values["server"], version=values["version"],
                    update_key=values["update_key"])


def write_identity(path: Path, identity: Identity) -> Path:
    """Write ``identity`` to ``path`` in one step (a private temporary file renamed over it)."""
    try:
        descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    except OSError as error:
        raise OutputError(f"cannot write {path} ({error.strerror}); make its folder writable") from None
    staging = Path(name)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(identity.to_toml())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, path)
    except OSError as error:
        staging.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path} ({error.strerror}); make its folder writable") from None
    return path


def register(spec: ModuleSpec, *, server: str, admin_token: str) -> Identity:
    """Create the module through the queue's API; its id, token and the queue's update key."""
    body = {"name": spec.name, "group": spec.group, "assignment": spec.assignment}
    response = call_queue("POST", f"{server.rstrip('/')}/api/v1/modules", server=server, admin_token=admin_token, json=body)
    if response.status_code == 201:
        created = response.json()
        registered = f"module {created['id']} is registered: build it with --module {created['id']} once it is fixed"
        return Identity(created["id"], created["token"], server, update_key=_server_key(created, server, registered))
    detail = problem_detail(response)
    if response.status_code in (401, 403):
        raise ConfigError(f"the queue refused the admin token ({detail}); pass an admin's API token with --token")
    raise NetworkError(f"the queue refused to register the module ({response.status_code}: {detail})")


def fetch(module_id: str, *, server: str, admin_token: str) -> Identity:
    """This company's module ``module_id`` with its current token, read without rotating it, and the
    queue's update key."""
    not_ours = (f"{server} has no module {module_id} in your company; check --module "
                "(the admin page lists your modules), or leave it out to register a new module")
    if not MODULE_ID.fullmatch(module_id):
        raise NotFoundError(not_ours)
    response = call_queue("GET", f"{server.rstrip('/')}/api/v1/modules/{module_id}/token", server=server,
                     admin_token=admin_token)
    if response.status_code == 200:
        shown = response.json()
        key = _server_key(shown, server, "build again once it is fixed")
        return Identity(module_id, shown["token"], server, update_key=key)
    if response.status_code == 404:
        raise NotFoundError(not_ours)
    if response.status_code == 409:
        raise ConfigError(
            f"the queue cannot show module {module_id}'s token (it predates derivable tokens); rotate it once with "
            f"POST {server.rstrip('/')}/api/v1/modules/{module_id}/rotate-token, rebuild every copy, then use --module")
    detail = problem_detail(response)
    if response.status_code in (401, 403):
        raise ConfigError(f"the queue refused the admin token ({detail}); pass an admin's API token with --token")
    raise NetworkError(f"the queue refused to show module {module_id} ({response.status_code}: {detail})")


def _server_key(response: dict, server: str, then: str) -> str:
    """The ``update_key`` of a queue's module response ("" from a queue without updates).

    :raises NetworkError: if it is there but not a public update key.
    """
    key = response.get("update_key")
    key = "" if key is None else key
    if not _is_key(key):
        raise NetworkError(f"the server's update key is malformed (not a base64 Ed25519 public key): the queue at "
                           f"{server} needs fixing or updating; {then}")
    return key


def _is_key(text) -> bool:
    """Whether ``text`` is "" (no key) or a public update key."""
    if not isinstance(text, str):
        return False
    try:
        return not text or bool(updates.decode_key(text))
    except ValueError:
        return False


def call_queue(method: str, url: str, *, server: str, admin_token: str, json: dict | None = None,
               image: bytes | None = None) -> "requests.Response":
    """One admin call to the queue; ``image`` is sent as the body, as a PNG."""
    import requests  # here: a build that calls no queue does not pay for importing it

    headers = {"Authorization": f"Bearer {admin_token}"}
    if image is not None:
        headers["Content-Type"] = "image/png"
    try:
        return requests.request(method, url, json=json, data=image, headers=headers, timeout=15)
    except requests.exceptions.RequestException as error:
        raise NetworkError(f"cannot reach the queue at {server} ({type(error).__name__}); check --server") from None


def problem_detail(response: "requests.Response") -> str:
    try:
        return response.json().get("detail", response.reason)
    except (ValueError, AttributeError):
        return response.reason


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
