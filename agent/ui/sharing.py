"""The sharing bar: always on top while the screen is shared, with a one-click Stop sharing,
and while an expert is in control, who it is and a one-click Take back control."""

import tkinter as tk
from collections.abc import Callable

from sosqueue.connect import TAKE_BACK_LABEL
from sosqueue.module_config import ModuleConfig
from agent.i18n import _
from agent.ui import theme

MARGIN_TOP = 8


class SharingIndicator:
    """A small bar at the top of the screen: "Your screen is being shared — Stop sharing", and while
    an expert is in control "Alex is in control — Take back control  Ctrl+Alt+Space" beside it.

    It has no title bar (it cannot be closed or hidden by mistake) and stays above other
    windows. :param on_stop: called once when the customer clicks Stop sharing.
    """

    def __init__(self, parent: tk.Misc, config: ModuleConfig, *, on_stop: Callable[[], None]):
        self.palette = palette = theme.Palette.from_brand(config.brand)
        self.fonts = theme.make_fonts(parent)  # kept: Tk forgets fonts nobody references
        self._on_stop = on_stop
        self._stopped = False
        self._on_take_back: Callable[[], None] | None = None  # set while the control part is shown
        self.colour = colour = palette.accent
        self.window = tk.Toplevel(parent, background=colour, padx=14, pady=6)
        self.window.withdraw()  # shown once it has its place, so it never flashes in a corner
        self.window.overrideredirect(True)
        self.window.attributes("-topmost", True)
        tk.Label(self.window, text="●", background=colour, foreground=palette.on_accent, font=self.fonts.heading).pack(
            side="left", padx=(0, 8))
        self.label = tk.Label(self.window, text=_("Your screen is being shared"), background=colour,
                              foreground=palette.on_accent, font=self.fonts.strong)
        self.label.pack(side="left")
        self.stop_button = self._button(self.window, _("Stop sharing"), self.stop)
        self.stop_button.pack(side="left", padx=(16, 0))
        self._build_control_row()
        self._place()

    def _build_control_row(self) -> None:
        """The control part, packed only while an expert is in control. It is hidden, never destroyed:
        Tk (8.6 on X11) may crash later when a frame is destroyed while the pointer is over it."""
        self.control_row = tk.Frame(self.window, background=self.colour)
        self.control_label = tk.Label(self.control_row, background=self.colour, foreground=self.palette.on_accent,
                                      font=self.fonts.heading)
        self.control_label.pack(side="left")
        self.take_back_button = self._button(self.control_row, _("Take back control"), self.take_back)
        self.take_back_button.pack(side="left", padx=(12, 0))
        self.keys_label = tk.Label(self.control_row, text=TAKE_BACK_LABEL, background=self.colour,
                                   foreground=self.palette.on_accent, font=self.fonts.strong)
        self.keys_label.pack(side="left", padx=(8, 0))

    def show_control(self, expert: str, on_take_back: Callable[[], None]) -> None:
        """Show that ``expert`` is in control, with Take back control: ``on_take_back`` once when clicked."""
        self._on_take_back = on_take_back
        self.control_label.configure(text=_("{expert} is in control").format(expert=expert))
        self.control_row.pack(side="left", padx=(24, 0))
        self._place()

    def hide_control(self) -> None:
        """Take the control part away without reporting a take-back."""
        if self._on_take_back is None:
            return
        self._on_take_back = None
        try:
            self.control_row.pack_forget()
            self._place()
        except tk.TclError:
            pass  # the bar is gone already

    def control_shown(self) -> bool:
        return self._on_take_back is not None

    def take_back(self) -> None:
        """The customer clicked Take back control: report it once; the bar stays (the screen is still shared)."""
        on_take_back = self._on_take_back
        if on_take_back is None:
            return
        self.hide_control()
        on_take_back()

    def take_back_centre(self) -> list[int] | None:
        """Where a click on Take back control lands (screen pixels), or None unless it is on screen."""
        if not self.control_shown() or not _laid_out(self.take_back_button):
            return None
        return _centre(self.take_back_button)

    def _button(self, parent: tk.Misc, text: str, command: Callable[[], None]) -> tk.Button:
        return tk.Button(
            parent, text=text, command=command, cursor="hand2", relief="flat",
            background=theme.WHITE, foreground=self.palette.accent_ink, activebackground=theme.SURFACE,
            activeforeground=self.palette.accent_ink, font=self.fonts.strong, padx=12, pady=3, borderwidth=0,
            highlightthickness=0,
        )

    def stop(self) -> None:
        """The customer clicked Stop sharing: report it once and go away."""
        if self._stopped:
            return
        self._stopped = True
        self.destroy()
        self._on_stop()

    def destroy(self) -> None:
        try:
            self.window.destroy()
        except tk.TclError:
            pass
        self.fonts = None  # freed here, on Tk's thread, not by a garbage collection elsewhere

    def geometry(self) -> str:
        """``WxH+X+Y`` on the screen, or "" until it is on screen and once it is gone."""
        if not self._on_screen():
            return ""
        window = self.window
        return f"{window.winfo_width()}x{window.winfo_height()}+{window.winfo_rootx()}+{window.winfo_rooty()}"

    def stop_button_centre(self) -> list[int] | None:
        """Where a click on Stop sharing lands (screen pixels), or None until it is on screen and once gone."""
        if not self._on_screen():
            return None
        return _centre(self.stop_button)

    def _on_screen(self) -> bool:
        return _laid_out(self.stop_button)

    def _place(self) -> None:
        """Centred at the top; placed again when the control part comes or goes."""
        self.window.update_idletasks()
        x = (self.window.winfo_screenwidth() - self.window.winfo_reqwidth()) // 2
        self.window.geometry(f"+{max(0, x)}+{MARGIN_TOP}")
        self.window.deiconify()
        self.window.lift()


def _laid_out(widget: tk.Misc) -> bool:
    """Mapped and laid out: before that Tk reports a size of 1×1 and a stale position."""
    try:
        return bool(widget.winfo_ismapped()) and widget.winfo_width() > 1
    except tk.TclError:
        return False


def _centre(widget: tk.Misc) -> list[int]:
    return [widget.winfo_rootx() + widget.winfo_width() // 2, widget.winfo_rooty() + widget.winfo_height() // 2]
