"""The admin's module config (``module.toml``): parsed, validated, turned into the agent's config."""

import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

from sosqueue import module_config, urls
from branding.model import Brand, BrandError as BrandInputError
from builder.versions import VERSION_LIMITS, VERSION_PATTERN
from sosqueue.errors import BrandError, ConfigError

SECTIONS = {"module", "server", "brand", "options"}
#: The address older templates filled in: a config that still has it names no server deliberately.
TEMPLATE_SERVER_URL = "http://127.0.0.1:8765"


def template() -> str:
    """The commented template that ``sosqueue module init`` writes; it builds as it is."""
    return resources.files("builder").joinpath("template.toml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class ModuleSpec:
    """An admin's module: how it registers (``name``, ``group``, ``assignment``), the brand as the
    admin gave it (rendered into the module's assets), and the module configuration's own parts
    (:class:`sosqueue.module_config.ModuleConfig`'s id, token, server, CA bundle and options),
    which :meth:`agent_config` puts together into what the module carries."""

    name: str
    module_id: str
    module_token: str
    group: str | None
    assignment: str
    server_url: str
    ca_bundle: bytes | None
    brand: Brand
    options: module_config.Options
    #: ``[module] version`` (``X.Y.Z``), "" when the config has none.
    version: str = ""
    #: Whether the config names its server deliberately: ``[server] url`` is set and is not the
    #: address older templates filled in. Otherwise the registering server (``--server``) is stamped.
    server_url_set: bool = True
    #: The registering server's public update key (``sosqueue.updates``); "" without a server.
    update_key: str = ""
    #: Whether the config has a ``[brand]`` section: its brand and options then become the queue's
    #: brand of the module; without one, a build takes the queue's (``builder.queue_brand``).
    brand_set: bool = True

    @property
    def registered(self) -> bool:
        return bool(self.module_id and self.module_token)

    def agent_config(self, *, module_id: str | None = None, module_token: str | None = None,
                     assets: dict[str, bytes] | None = None, base_sha256: str = "",
                     base_built: str = "") -> module_config.ModuleConfig:
        return module_config.ModuleConfig(
            module_id=module_id or self.module_id,
            module_token=module_token or self.module_token,
            server_url=self.server_url,
            brand=self.brand.stamped(),
            options=self.options,
            ca_bundle=self.ca_bundle,
            assets=assets or {},
            version=self.version,
            update_key=self.update_key,
            base_sha256=base_sha256,
            base_built=base_built,
        )


def load(path: Path, *, allow_insecure: bool = False, defer_logo: bool = False) -> ModuleSpec:
    """The module config at ``path``; with ``defer_logo`` its logo is decoded on first use
    (:class:`branding.model.Brand`), so that a build with a cached rendering never decodes it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no module config at {path}; write one with: sosqueue module init {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    return parse(data, base_dir=path.parent, allow_insecure=allow_insecure, defer_logo=defer_logo)


def parse(data: dict, *, base_dir: Path, allow_insecure: bool = False, defer_logo: bool = False) -> ModuleSpec:
    unknown = set(data) - SECTIONS
    if unknown:
        raise ConfigError(f"unknown section [{sorted(unknown)[0]}]; the sections are {', '.join(sorted(SECTIONS))}")
    module, server = _table(data, "module"), _table(data, "server")
    _only(module, "module", {"name", "id", "token", "group", "assignment", "version"})
    _only(server, "server", {"url", "ca_bundle"})
    try:
        brand = Brand.from_mapping(_table(data, "brand"), base_dir=base_dir, defer_logo=defer_logo)
    except BrandInputError as error:
        raise BrandError(f"{error}") from None
    module_id, token = _text(module, "module", "id", ""), _text(module, "module", "token", "")
    if bool(module_id) != bool(token):
        raise ConfigError("module.id and module.token go together: fill in both, or leave both empty to register")
    url = _text(server, "server", "url", "")
    url_set = bool(url) and url.rstrip("/") != TEMPLATE_SERVER_URL
    return ModuleSpec(
        name=_text(module, "module", "name", brand.product) or brand.product,
        module_id=module_id,
        module_token=token,
        group=_text(module, "module", "group", "") or None,
        assignment=_text(module, "module", "assignment", "none"),
        server_url=check_server_url(url, allow_insecure=allow_insecure) if url else "",
        ca_bundle=_ca_bundle(_text(server, "server", "ca_bundle", ""), base_dir),
        brand=brand,
        options=_options(_table(data, "options")),
        version=_version(_text(module, "module", "version", "")),
        server_url_set=url_set,
        brand_set="brand" in data,
    )


def _version(text: str) -> str:
    if not text:
        return ""
    found = VERSION_PATTERN.match(text)
    if not found or any(int(part) > limit for part, limit in zip(found.groups(), VERSION_LIMITS)):
        raise ConfigError(f"module.version {text!r} is not X.Y.Z with X and Y up to 255 and Z up to 65535, e.g. \"1.0.0\"")
    return ".".join(str(int(part)) for part in found.groups())


def check_server_url(url: str, *, allow_insecure: bool) -> str:
    try:
        return urls.server_url(url, allow_insecure=allow_insecure)
    except urls.BadServerUrl as error:
        raise ConfigError(f"server.url {error}") from None


def _options(table: dict) -> module_config.Options:
    flags = {f.name for f in fields(module_config.Options)} - {"fields", "topics"}
    _only(table, "options", flags | {"fields", "topics"})
    values = {}
    for key in flags & set(table):
        if not isinstance(table[key], bool):
            raise ConfigError(f"options.{key} must be true or false, not {table[key]!r}")
        values[key] = table[key]
    field_table = _table(table, "fields", prefix="options.")
    _only(field_table, "options.fields", {f.name for f in fields(module_config.Fields)})
    modes = ", ".join(module_config.FIELD_MODES[:-1]) + f" or {module_config.FIELD_MODES[-1]}"
    for key, mode in field_table.items():
        if mode not in module_config.FIELD_MODES:
            raise ConfigError(f"options.fields.{key} must be {modes}, not {mode!r}")
    return module_config.Options(**values, fields=module_config.Fields(**field_table),
                                 topics=_topics(table.get("topics", [])))


def _topics(items) -> tuple[module_config.Topic, ...]:
    """``[[options.topics]]``: each a ``label`` and an optional ``group`` (a group's name on the queue)."""
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ConfigError("options.topics must be tables: write each topic as [[options.topics]] with label = \"…\"")
    if len(items) > module_config.MAX_TOPICS:
        raise ConfigError(f"options.topics: {len(items)} topics, at most {module_config.MAX_TOPICS}; remove some")
    topics, seen = [], set()
    for number, item in enumerate(items, start=1):
        section = f"options.topics #{number}"
        _only(item, section, {"label", "group"})
        label, group = _text(item, section, "label", ""), _text(item, section, "group", "")
        try:
            module_config.check_topic_label(label)
        except ValueError as error:
            raise ConfigError(f"{section}: {error}; give it a label = \"…\"") from None
        if label.casefold() in seen:
            raise ConfigError(f"{section}: the label {label!r} is there twice; give each topic its own label")
        seen.add(label.casefold())
        topics.append(module_config.Topic(label=label, group=group))
    return tuple(topics)


def _ca_bundle(path_text: str, base_dir: Path) -> bytes | None:
    if not path_text:
        return None
    path = base_dir / Path(path_text).expanduser()
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"server.ca_bundle: cannot read {path} ({error.strerror}); give a PEM file") from None
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise ConfigError(f"server.ca_bundle: {path} holds no PEM certificate")
    return pem


def _table(data: dict, name: str, prefix: str = "") -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{prefix}{name} must be a table ([{prefix}{name}])")
    return value


def _only(table: dict, section: str, allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{section}.{key} is not a setting; the settings are: {', '.join(sorted(allowed))}")


def _text(table: dict, section: str, key: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{section}.{key} must be text in quotes, not {value!r}")
    return value.strip()
