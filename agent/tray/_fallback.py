"""A small always-on-top "SOS" button labelled "Help", for Linux desktops without a tray host.

Left click requests help, right click opens the tray's menu, and dragging moves the button.
It is made of Tk widgets, so it lives on Tk's thread: it is made from ``tk_root`` and every
change coming from another thread is handed to Tk with ``root.after(0, …)``. Its actions
are therefore called on Tk's main thread.
"""

import base64
import io
import logging
import threading
import tkinter as tk
import tkinter.font as tkfont
from typing import Callable

from agent.tray._base import Tray, brand_colours, identity

log = logging.getLogger("sosqueue.agent.tray")


def on_tk_thread(root: tk.Misc, tk_thread: int, work: Callable[[], None], *, what: str) -> None:
    """Runs ``work`` now on Tk's thread (``tk_thread``), or hands it to that thread from any other;
    when Tk has gone, ``what`` is logged instead."""
    if threading.get_ident() == tk_thread:
        work()
        return
    try:
        root.after(0, work)
    except (RuntimeError, tk.TclError) as error:  # Tk has gone, or its loop is not running
        log.debug("%s: %s", what, error)


class FallbackTray(Tray):
    """The SOS button: a borderless, always-on-top Tk window near the bottom-right corner.

    Create it on Tk's thread (the thread that made ``tk_root``).

    :param tk_root: the application's Tk root.
    :raises ImportError: if there is no Tk root to make the button with.
    """

    HAS_MENU = True
    HAS_DEFAULT_ACTION = True
    HAS_NOTIFICATION = False
    backend_name = "fallback"

    #: The picture's size in pixels.
    SIZE = 64
    #: The distance from the screen's right and bottom edges (room for a panel below).
    MARGIN = (24, 64)
    #: How far, in pixels, the pointer moves before a press becomes a drag.
    DRAG_THRESHOLD = 4
    #: How long, in milliseconds, the pointer rests before the tooltip shows.
    TOOLTIP_DELAY = 500

    def __init__(self, config, actions, *, translate: Callable[[str], str] = identity, tk_root=None):
        if tk_root is None:
            raise ImportError("the fallback button is made with Tk: pass tk_root to create_tray")
        super().__init__(config, actions, translate=translate)
        self._root = tk_root
        self._tk_thread = threading.get_ident()
        self.window: tk.Toplevel | None = None
        self.menu: tk.Menu | None = None
        self._button: tk.Label | None = None
        #: The word under the picture that says what the button is for.
        self.caption: tk.Label | None = None
        self._caption_font: tkfont.Font | None = None
        self._photo: tk.PhotoImage | None = None
        self._tip: tk.Toplevel | None = None
        self._tip_job: str | None = None
        self._menu: TrayMenu | None = None
        self._press: tuple[int, int, int, int] | None = None
        self._dragged = False

    def _start(self) -> None:
        self._on_tk(self._build)

    def _update(self) -> None:
        self._on_tk(self._refresh)

    def _stop(self) -> None:
        self._on_tk(self._destroy)

    def _notify(self, title: str, message: str) -> None:
        pass

    def _on_tk(self, work: Callable[[], None]) -> None:
        on_tk_thread(self._root, self._tk_thread, work, what="the SOS button cannot be updated")

    def _build(self) -> None:
        if not self.running:
            return
        primary, on_primary = brand_colours(self._config)
        window = self.window = tk.Toplevel(self._root, background=primary)
        window.overrideredirect(True)
        window.attributes("-topmost", True)
        self._button = tk.Label(window, borderwidth=0, background=on_primary, cursor="hand2")
        self._button.pack(padx=2, pady=(2, 0))
        self._caption_font = tkfont.nametofont("TkDefaultFont", root=self._root).copy()
        self._caption_font.configure(weight="bold")
        self.caption = tk.Label(window, text=self.caption_text(), background=primary, foreground=on_primary,
                                font=self._caption_font, borderwidth=0, cursor="hand2")
        self.caption.pack(fill="x", padx=2, pady=(1, 2))
        self._menu = TrayMenu(self, window)
        self.menu = self._menu.widget
        for widget in (self._button, self.caption):
            self._bind(widget)
        self._refresh()
        self._place()

    def caption_text(self) -> str:
        """The word under the picture, in the customer's language."""
        _ = self._translate
        return _("Help")

    def _bind(self, widget: tk.Widget) -> None:
        widget.bind("<ButtonPress-1>", self._on_press)
        widget.bind("<B1-Motion>", self._on_drag)
        widget.bind("<ButtonRelease-1>", self._on_release)
        widget.bind("<ButtonPress-3>", self._on_menu)
        widget.bind("<Enter>", self._on_enter)
        widget.bind("<Leave>", lambda _event: self._hide_tooltip())

    def _place(self) -> None:
        window = self.window
        window.update_idletasks()
        width, height = window.winfo_reqwidth(), window.winfo_reqheight()
        x = window.winfo_screenwidth() - width - self.MARGIN[0]
        y = window.winfo_screenheight() - height - self.MARGIN[1]
        window.geometry(f"{width}x{height}+{x}+{y}")

    def _refresh(self) -> None:
        if self.window is None or not self.running:
            return
        buffer = io.BytesIO()
        self.picture(self.SIZE).save(buffer, "PNG")
        self._photo = tk.PhotoImage(master=self.window, data=base64.b64encode(buffer.getvalue()))
        self._button.configure(image=self._photo)
        self.window.title(self.tooltip)

    def _destroy(self) -> None:
        self._hide_tooltip()
        if self.window is not None:
            try:
                self.window.destroy()
            except tk.TclError:
                pass  # the Tk root went first
        self.window = self.menu = self._menu = self._button = self.caption = None

    def _on_press(self, event) -> None:
        self._hide_tooltip()
        self._press = (event.x_root, event.y_root, self.window.winfo_x(), self.window.winfo_y())
        self._dragged = False

    def _on_drag(self, event) -> None:
        if self._press is None:
            return
        x_root, y_root, x, y = self._press
        dx, dy = event.x_root - x_root, event.y_root - y_root
        if abs(dx) > self.DRAG_THRESHOLD or abs(dy) > self.DRAG_THRESHOLD:
            self._dragged = True
        if self._dragged:
            self.window.geometry(f"+{x + dx}+{y + dy}")

    def _on_release(self, _event) -> None:
        pressed, self._press = self._press, None
        if pressed is not None and not self._dragged:
            self.activate("request_help")

    def _on_menu(self, event) -> None:
        self._hide_tooltip()
        self._menu.popup(event.x_root, event.y_root)

    def _on_enter(self, _event) -> None:
        self._hide_tooltip()
        self._tip_job = self.window.after(self.TOOLTIP_DELAY, self._show_tooltip)

    def _show_tooltip(self) -> None:
        self._tip_job = None
        if self.window is None:
            return
        tip = self._tip = tk.Toplevel(self.window)
        tip.overrideredirect(True)
        tip.attributes("-topmost", True)
        tk.Label(tip, text=self.tooltip, background="#FFFFE0", foreground="#000000",
                 relief="solid", borderwidth=1, padx=6, pady=3).pack()
        tip.update_idletasks()
        x = self.window.winfo_rootx() + self.window.winfo_width() - tip.winfo_reqwidth()
        y = self.window.winfo_rooty() - tip.winfo_reqheight() - 6
        tip.geometry(f"+{max(0, x)}+{max(0, y)}")

    def _hide_tooltip(self) -> None:
        if self._tip_job is not None and self.window is not None:
            self.window.after_cancel(self._tip_job)
        self._tip_job = None
        if self._tip is not None:
            try:
                self._tip.destroy()
            except tk.TclError:
                pass
            self._tip = None


class TrayMenu:
    """The tray's menu as a Tk popup menu, as the SOS button and the X tray icon open it.

    :param tray: the tray whose :meth:`Tray.menu_entries` it shows and whose actions it runs.
    :param master: the Tk widget it belongs to.
    """

    def __init__(self, tray: Tray, master: tk.Misc):
        self._tray = tray
        self.widget = tk.Menu(master, tearoff=False)
        self._bold = tkfont.nametofont("TkMenuFont", root=master).copy()
        self._bold.configure(weight="bold")

    def popup(self, x: int, y: int) -> None:
        """Shows the menu as it is now, at ``x``, ``y`` on the screen."""
        self._fill()
        try:
            self.widget.tk_popup(x, y)
        finally:
            self.widget.grab_release()

    def destroy(self) -> None:
        try:
            self.widget.destroy()
        except tk.TclError:
            pass  # the Tk root went first

    def _fill(self) -> None:
        menu = self.widget
        menu.delete(0, "end")
        for entry in self._tray.menu_entries():
            if entry is None:
                menu.add_separator()
            elif entry.visible:
                menu.add_command(
                    label=entry.label, state="normal" if entry.enabled else "disabled",
                    font=self._bold if entry.default else None,
                    command=lambda key=entry.key: self._tray.activate(key))
