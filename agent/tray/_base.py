"""The tray icon every backend shares: state, menu model, pictures and the template methods."""

import io
import logging
import threading
from dataclasses import dataclass
from typing import Callable

from PIL import Image, ImageColor

from sosqueue.module_config import ModuleConfig

log = logging.getLogger("sosqueue.agent.tray")

#: The states a tray shows, in the order a request goes through them.
STATES = ("idle", "waiting", "connected")

#: The colour of the status dot on a generated picture, per state.
STATUS_COLOURS = {"idle": "#9AA0A6", "waiting": "#F5A623", "connected": "#1DB954"}

#: The menu's items, in order; ``None`` stands for a separator.
MENU_KEYS = ("request_help", "show_request", "cancel_request", None, "about", "quit")

#: The size, in pixels, of the pictures handed to backends.
PICTURE_SIZE = 64

_DEFAULT_PRIMARY = "#0B5FFF"
_DEFAULT_ON_PRIMARY = "#FFFFFF"


def identity(text: str) -> str:
    """The translation used when none is given: the English text itself."""
    return text


@dataclass(frozen=True)
class TrayActions:
    """What the tray's menu does. Each callable takes no arguments.

    They are called from the tray's own thread (Tk's main thread for the fallback button),
    so an action that touches Tk must hand its work to Tk with ``root.after``.
    """

    request_help: Callable[[], None]
    show_request: Callable[[], None]
    cancel_request: Callable[[], None]
    about: Callable[[], None]
    quit: Callable[[], None]


@dataclass(frozen=True)
class MenuEntry:
    """One item of the tray menu as every backend renders it."""

    key: str
    label: str
    enabled: bool
    visible: bool
    default: bool


class Tray:
    """A tray icon showing the customer's request.

    Public methods check the tray's phase and store the state, then call the private hooks
    ``_start``, ``_update``, ``_stop`` and ``_notify`` that each backend implements.

    :param config: the module's configuration (branding and pictures).
    :param actions: what the menu items do.
    :param translate: turns an English label into the customer's language.
    """

    #: Whether the tray has a menu the customer can open.
    HAS_MENU = False
    #: Whether the tray can show a desktop notification.
    HAS_NOTIFICATION = False
    #: Whether clicking the icon itself requests help.
    HAS_DEFAULT_ACTION = False

    #: The name of the backend, as ``SOSQUEUE_TRAY`` spells it.
    backend_name = "base"

    def __init__(self, config: ModuleConfig, actions: TrayActions, *,
                 translate: Callable[[str], str] = identity):
        self._config = config
        self._actions = actions
        self._translate = translate
        self._lock = threading.RLock()
        self._phase = "new"
        self._state = "idle"
        self._code: str | None = None
        self._status_text = ""
        self._pictures: dict[tuple[str, int], Image.Image] = {}

    @property
    def state(self) -> str:
        """The state shown: one of :data:`STATES`."""
        return self._state

    @property
    def code(self) -> str | None:
        """The session code of the customer's open request, if there is one."""
        return self._code

    @property
    def running(self) -> bool:
        """Whether :meth:`start` was called and :meth:`stop` was not."""
        return self._phase == "running"

    @property
    def status_text(self) -> str:
        """The request's status in plain words."""
        return self._status_text or self._default_status()

    @property
    def tooltip(self) -> str:
        """What the icon says when the pointer rests on it: product and status."""
        return f"{self._config.brand.product} — {self.status_text}"

    def start(self) -> None:
        """Shows the tray and returns at once; backends run their own daemon thread.

        :raises RuntimeError: if the tray was started before.
        """
        with self._lock:
            if self._phase != "new":
                raise RuntimeError(f"the tray is {self._phase} and cannot be started again")
            self._phase = "running"
        try:
            self._start()
        except BaseException:
            self._phase = "new"
            raise

    def set_state(self, state: str, *, code: str | None = None, status_text: str = "") -> None:
        """Shows a request's state: picture, tooltip and the menu's request items.

        Calls after :meth:`stop` are ignored, so a late status event cannot fail.

        :param state: one of :data:`STATES`.
        :param code: the open request's session code, or ``None`` when there is none.
        :param status_text: the status in plain words; empty for the state's default.
        :raises ValueError: if ``state`` is not one of :data:`STATES`.
        """
        if state not in STATES:
            raise ValueError(f"unknown tray state {state!r}; expected one of {', '.join(STATES)}")
        with self._lock:
            self._state, self._code, self._status_text = state, code, status_text
            if self._phase != "running":
                return
        self._update()

    def apply_brand(self, config: ModuleConfig) -> None:
        """Shows ``config``'s brand (one refreshed from the queue): its pictures and product name.

        Calls after :meth:`stop` only store it.
        """
        with self._lock:
            self._config = config
            self._pictures.clear()
            if self._phase != "running":
                return
        self._update()

    def stop(self) -> None:
        """Removes the tray and ends its thread; calling it again does nothing."""
        with self._lock:
            was_running = self._phase == "running"
            self._phase = "stopped"
        if was_running:
            self._stop()

    def notify(self, title: str, message: str) -> None:
        """Shows a desktop notification where the backend can; otherwise does nothing.

        :param title: the notification's title.
        :param message: its text.
        """
        if self.HAS_NOTIFICATION and self.running:
            self._notify(title, message)

    def menu_entries(self) -> list[MenuEntry | None]:
        """The menu as it is now; ``None`` stands for a separator."""
        _ = self._translate
        with self._lock:
            has_request = self._code is not None
            labels = {
                "request_help": _("Request help"),
                "show_request": _("My request {code} — {status}").format(
                    code=self._code, status=self.status_text) if has_request else "",
                "cancel_request": _("Cancel my request"),
                "about": _("About"),
                "quit": _("Quit"),
            }
        return [None if key is None else MenuEntry(
            key=key,
            label=labels[key],
            enabled=has_request or key not in ("show_request", "cancel_request"),
            visible=has_request or key != "show_request",
            default=key == "request_help",
        ) for key in MENU_KEYS]

    def activate(self, key: str) -> None:
        """Runs the action of a menu item; errors are logged, never raised into the backend.

        :param key: a :class:`MenuEntry` key, such as ``"request_help"``.
        """
        try:
            getattr(self._actions, key)()
        except Exception:
            log.exception("the tray's %r action failed", key)

    def picture(self, size: int = PICTURE_SIZE) -> Image.Image:
        """The picture for the current state, from the module's assets or generated.

        :param size: the width and height in pixels.
        """
        key = (self._state, size)
        if key not in self._pictures:
            self._pictures[key] = state_picture(self._config, self._state, size)
        return self._pictures[key]

    def _default_status(self) -> str:
        _ = self._translate
        return {"idle": _("ready"), "waiting": _("waiting for a supporter"),
                "connected": _("supporter connected")}[self._state]

    # The backend hooks: _pystray (and _xorg), _fallback and _dummy each implement all four.

    def _start(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} is a tray backend without _start")

    def _update(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} is a tray backend without _update")

    def _stop(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} is a tray backend without _stop")

    def _notify(self, title: str, message: str) -> None:
        raise NotImplementedError(f"{type(self).__name__} is a tray backend without _notify")


def state_picture(config: ModuleConfig, state: str, size: int = PICTURE_SIZE) -> Image.Image:
    """The module's ``tray-<state>.png``, or a generated one when it is missing or unreadable.

    :param config: the module's configuration.
    :param state: one of :data:`STATES`.
    :param size: the width and height in pixels.
    """
    name = f"tray-{state}.png"
    data = config.assets.get(name)
    if data:
        try:
            with _open_picture(data) as image:
                return image.convert("RGBA").resize((size, size), Image.LANCZOS)
        except (OSError, ValueError) as error:
            log.warning("the module's %s cannot be read (%s); drawing one instead", name, error)
    return generated_picture(config.brand.primary, config.brand.on_primary, state, size)


def _open_picture(data: bytes) -> Image.Image:
    """A tray picture, read as the PNG it is named; :func:`PIL.Image.open` (which loads Pillow's GIF, JPEG,
    BMP and PPM readers first, about 1 MB) only for one that is not."""
    from PIL import PngImagePlugin

    try:
        return PngImagePlugin.PngImageFile(io.BytesIO(data))
    except SyntaxError:  # Pillow's way of saying "not a PNG"
        return Image.open(io.BytesIO(data))


def generated_picture(primary: str, on_primary: str, state: str, size: int = PICTURE_SIZE) -> Image.Image:
    """A circle in the brand's primary colour saying "SOS", with a dot showing the state.

    :param primary: the circle's colour (any CSS colour Pillow understands).
    :param on_primary: the colour of the text and of the dot's ring.
    :param state: one of :data:`STATES`; picks the dot's colour.
    :param size: the width and height in pixels.
    """
    from PIL import ImageDraw, ImageFont  # FreeType's 1.5 MB: only for a module without its own tray pictures

    scale = 4  # draw large and shrink, for smooth edges
    big = size * scale
    fill, ink = _colour(primary, _DEFAULT_PRIMARY), _colour(on_primary, _DEFAULT_ON_PRIMARY)
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((0, 0, big - 1, big - 1), fill=fill)
    font = ImageFont.load_default(size=big * 0.3)
    draw.text((big * 0.5, big * 0.44), "SOS", fill=ink, font=font, anchor="mm")
    radius, centre = big * 0.2, big * 0.78
    draw.ellipse((centre - radius, centre - radius, centre + radius, centre + radius),
                 fill=STATUS_COLOURS[state], outline=ink, width=max(1, int(big * 0.04)))
    return image.resize((size, size), Image.LANCZOS)


def brand_colours(config: ModuleConfig) -> tuple[str, str]:
    """The brand's primary and on-primary colours as ``#rrggbb``, defaults for unreadable ones."""
    return tuple("#%02x%02x%02x" % _colour(value, default) for value, default in (
        (config.brand.primary, _DEFAULT_PRIMARY), (config.brand.on_primary, _DEFAULT_ON_PRIMARY)))


def _colour(value: str, default: str) -> tuple[int, int, int]:
    try:
        return ImageColor.getrgb(value)[:3]
    except ValueError:
        log.warning("brand colour %r is not a colour; using %s", value, default)
        return ImageColor.getrgb(default)[:3]
