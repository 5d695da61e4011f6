"""The module's personalised configuration, as stamped into it by the builder."""

import re
from dataclasses import asdict, dataclass, field
from typing import Literal

from sosqueue import updates, urls
from sosqueue.payload import DamagedPayload, Payload

FORMAT_VERSION = 1
FieldMode = Literal["required", "optional", "hidden"]
FIELD_MODES = ("required", "optional", "hidden")
LANGUAGES = ("auto", "en", "de")
ASSET_NAMES = ("app.png", "app.ico", "sos.png", "sos.ico", "tray-idle.png", "tray-waiting.png",
               "tray-connected.png", "banner.png", "logo.png")


#: The brand's own texts, each given per language (``Brand.texts``); the window shows its built-in text
#: for a text the brand does not give. ``welcome`` and ``waiting`` may also be given for every language.
BRAND_TEXTS = ("welcome", "waiting", "closed", "privacy")
#: The languages a brand's texts are given in: the agent's languages.
TEXT_LANGUAGES = ("en", "de")

DEFAULT_PRIMARY = "#0B5FFF"
DEFAULT_ON_PRIMARY = "#FFFFFF"
DEFAULT_ACCENT = "#E5262A"


@dataclass(frozen=True)
class Brand:
    """The brand as a module carries it: names, colours (``#RRGGBB``) and texts, ready to show.

    The admin's brand (``branding.Brand``: a logo file, validation, an automatic text colour)
    makes one with its ``stamped()``.
    """

    company: str
    product: str
    primary: str = DEFAULT_PRIMARY
    on_primary: str = DEFAULT_ON_PRIMARY
    accent: str = DEFAULT_ACCENT
    window_title: str = ""
    welcome: str = ""
    waiting: str = ""
    language: str = "auto"
    #: ``{language: {text: words}}`` for :data:`TEXT_LANGUAGES` and :data:`BRAND_TEXTS`, empty ones left out.
    texts: dict[str, dict[str, str]] = field(default_factory=dict)

    def text(self, kind: str, language: str) -> str:
        """The brand's ``kind`` of text (one of :data:`BRAND_TEXTS`) in ``language``: its own for that
        language, else the one for every language, else "" (the window's built-in text)."""
        return self.texts.get(language, {}).get(kind, "") or getattr(self, kind, "")


@dataclass(frozen=True)
class Fields:
    name: FieldMode = "optional"
    email: FieldMode = "optional"
    description: FieldMode = "required"


#: The most topics a module offers, and the most characters of a topic's label.
MAX_TOPICS = 8
MAX_TOPIC_CHARS = 60


@dataclass(frozen=True)
class Topic:
    """One answer to "What is it about?": its ``label`` as the customer reads it, and the ``group`` (a
    group's name) its requests go to; "" keeps the module's own group. A request carries the label."""

    label: str
    group: str = ""


@dataclass(frozen=True)
class Options:
    sos_shortcut: bool = True
    start_menu: bool = True
    autostart: bool = False
    file_immediately: bool = False
    diagnostics: bool = True
    fields: Fields = field(default_factory=Fields)
    #: What the customer may pick from; none: the module asks no such question.
    topics: tuple[Topic, ...] = ()


@dataclass(frozen=True)
class ModuleConfig:
    module_id: str
    module_token: str
    server_url: str
    brand: Brand
    options: Options = field(default_factory=Options)
    ca_bundle: bytes | None = None  # PEM, when the queue's certificate is from a private CA
    assets: dict[str, bytes] = field(default_factory=dict, repr=False)
    version: str = ""  # X.Y.Z from the admin's config; "" in modules built before versions
    #: The server's public update key (base64, sosqueue.updates); "" when built without a server: no self-update.
    update_key: str = ""
    #: SHA-256 of the base agent this module was stamped onto ("" for a macOS bundle or an older module).
    base_sha256: str = ""
    #: When that base was built (``sosqueue.updates.BUILT_FORMAT``), "" if its base.json did not say.
    base_built: str = ""
    #: The version of the queue's brand of the module that this configuration carries (``sosqueue.brand_refresh``);
    #: 0 when built without a server, before brand versions, or while the module had no brand of its own.
    brand_version: int = 0

    @property
    def display_name(self) -> str:
        return self.brand.product

    def redacted(self) -> dict:
        """The configuration as ``--print-config`` shows it: no secrets (the brand version only when there is one)."""
        module = {"id": self.module_id, "token": redact(self.module_token), "version": self.version or None}
        if self.brand_version:
            module["brand_version"] = self.brand_version
        return {
            "module": module,
            "server": {"url": self.server_url, "custom_ca": self.ca_bundle is not None},
            "updates": {"key": self.update_key or None, "base_sha256": self.base_sha256 or None,
                        "base_built": self.base_built or None},
            "brand": asdict(self.brand),
            "options": asdict(self.options),
            "assets": sorted(self.assets),
        }


def redact(secret: str) -> str:
    return secret[:4] + "…" + secret[-2:] if len(secret) > 8 else "…"


def parse(payload: Payload) -> ModuleConfig:
    """Validate the stamped configuration; anything off means the module is damaged."""
    data = payload.config
    try:
        if data.get("format") != FORMAT_VERSION:
            raise DamagedPayload(f"module format {data.get('format')!r} is not {FORMAT_VERSION}")
        module, server, brand, options = data["module"], data["server"], data["brand"], data.get("options", {})
        config = ModuleConfig(
            module_id=check_module_id(module["id"]),
            module_token=_text(module["token"]),
            server_url=_url(server["url"], allow_insecure=bool(server.get("allow_insecure", False))),
            brand=brand_from_json(brand),
            options=options_from_json(options),
            ca_bundle=payload.assets.get("ca.pem"),
            assets=payload.assets,
            version=_version(module.get("version", "")),
            update_key=_update_key(data.get("updates", {}).get("key", "")),
            base_sha256=_sha256(data.get("updates", {}).get("base_sha256", "")),
            base_built=_built(data.get("updates", {}).get("base_built", "")),
            brand_version=check_brand_version(module.get("brand_version", 0)),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise DamagedPayload(f"the module configuration is incomplete: {error}") from None
    return config


def brand_from_json(data: dict) -> Brand:
    """A brand from its JSON form (``to_json``'s, a brand manifest's), checked.

    :raises TypeError, ValueError: for an unknown field, a value of the wrong kind, an unknown language.
    """
    brand = Brand(**{key: _texts(value) if key == "texts" else _text(value) for key, value in data.items()})
    if brand.language not in LANGUAGES:
        raise ValueError(f"unknown language {brand.language!r}")
    return brand


def options_from_json(data: dict) -> Options:
    """Options from their JSON form (``to_json``'s, the queue's brand API's), checked.

    :raises TypeError: for an unknown option or a value of the wrong kind.
    """
    return Options(**{key: _flag(value) for key, value in data.items() if key not in ("fields", "topics")},
                   fields=Fields(**{key: _mode(value) for key, value in data.get("fields", {}).items()}),
                   topics=topics_from_json(data.get("topics", [])))


def topics_from_json(data: list) -> tuple[Topic, ...]:
    """Topics from their JSON form (a list of ``{label, group}``), checked.

    :raises TypeError, ValueError: for something else than such a list, too many topics, an empty,
        too long or repeated label.
    """
    if not isinstance(data, (list, tuple)):
        raise TypeError(f"topics: expected a list, got {type(data).__name__}")
    if len(data) > MAX_TOPICS:
        raise ValueError(f"topics: at most {MAX_TOPICS}, not {len(data)}")
    topics = tuple(Topic(**{key: _text(value) for key, value in item.items()}) for item in data)
    for topic in topics:
        check_topic_label(topic.label)
    labels = [topic.label.casefold() for topic in topics]
    if len(set(labels)) != len(labels):
        raise ValueError("topics: each label may appear only once")
    return topics


def check_topic_label(label: str) -> str:
    """:raises ValueError: unless ``label`` is one line of 1 to :data:`MAX_TOPIC_CHARS` characters."""
    if not label.strip() or label != label.strip() or len(label) > MAX_TOPIC_CHARS or not label.isprintable():
        raise ValueError(f"topic {label!r}: a label is one line of 1 to {MAX_TOPIC_CHARS} characters, "
                         "without blanks around it")
    return label


def to_json(config: ModuleConfig) -> dict:
    """The inverse of ``parse`` for the JSON part (the builder writes this)."""
    module = {"id": config.module_id, "token": config.module_token}
    if config.version:  # left out when empty, so modules without a version read as before
        module["version"] = config.version
    if config.brand_version:  # left out when 0, likewise
        module["brand_version"] = config.brand_version
    data = {
        "format": FORMAT_VERSION,
        "module": module,
        "server": {"url": config.server_url, "allow_insecure": config.server_url.startswith("http://")},
        "brand": asdict(config.brand),
        "options": asdict(config.options),
    }
    update_fields = {"key": config.update_key, "base_sha256": config.base_sha256, "base_built": config.base_built}
    if any(update_fields.values()):  # left out when empty, like the version
        data["updates"] = {key: value for key, value in update_fields.items() if value}
    return data


def _text(value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _texts(value) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict):
        raise TypeError(f"brand texts: expected a table, got {type(value).__name__}")
    for language, texts in value.items():
        if language not in TEXT_LANGUAGES or not isinstance(texts, dict):
            raise ValueError(f"brand texts: {language!r} is not one of {', '.join(TEXT_LANGUAGES)}")
        for kind, words in texts.items():
            if kind not in BRAND_TEXTS:
                raise ValueError(f"brand texts: {kind!r} is not one of {', '.join(BRAND_TEXTS)}")
            _text(words)
    return value


def check_module_id(value) -> str:
    """:raises TypeError: unless ``value`` is a plain module id."""
    # The id names the agent's data folder: no separators, no "..", nothing Windows refuses.
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", _text(value)):
        raise TypeError(f"module id {value!r} is not a plain identifier")
    return value


def check_brand_version(value) -> int:
    """:raises TypeError, ValueError: unless ``value`` is a brand version (a whole number, 0 or more)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"brand version {value!r} is not a whole number")
    if value < 0:
        raise ValueError(f"brand version {value} is negative")
    return value


def _version(value) -> str:
    if _text(value) and not re.fullmatch(r"\d{1,5}\.\d{1,5}\.\d{1,5}", value):
        raise ValueError(f"module version {value!r} is not X.Y.Z")
    return value


def _update_key(value) -> str:
    if _text(value):
        updates.decode_key(value)  # ValueError (binascii.Error is one) for anything but a 32-byte key
    return value


def _sha256(value) -> str:
    if _text(value) and not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError("the base's SHA-256 is not 64 lowercase hex digits")
    return value


def _built(value) -> str:
    if not updates.is_build_time(value):
        raise ValueError(f"the base's build time {value!r} is not {updates.BUILT_FORMAT}")
    return value


def _flag(value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


def _mode(value) -> FieldMode:
    if value not in FIELD_MODES:
        raise TypeError(f"field mode must be one of {', '.join(FIELD_MODES)}")
    return value


def _url(value, *, allow_insecure: bool) -> str:
    try:
        return urls.server_url(_text(value), allow_insecure=allow_insecure, allow_loopback_http=False)
    except urls.BadServerUrl as error:
        raise TypeError(f"server url: {error}") from None
