"""The sharing bar: always on top while the screen is shared, with a one-click Stop sharing."""

import tkinter as tk
from collections.abc import Callable

from sosqueue.module_config import ModuleConfig
from agent.i18n import _
from agent.ui import theme

MARGIN_TOP = 8


class SharingIndicator:
    """A small bar at the top of the screen: "Your screen is being shared — Stop sharing".

    It has no title bar (it cannot be closed or hidden by mistake) and stays above other
    windows. :param on_stop: called once when the customer clicks Stop sharing.
    """

    def __init__(self, parent: tk.Misc, config: ModuleConfig, *, on_stop: Callable[[], None]):
        palette = theme.Palette.from_brand(config.brand)
        self.fonts = theme.make_fonts(parent)  # kept: Tk forgets fonts nobody references
        self._on_stop = on_stop
        self._stopped = False
        colour = palette.accent
        self.window = tk.Toplevel(parent, background=colour, padx=14, pady=6)
        self.window.withdraw()  # shown once it has its place, so it never flashes in a corner
        self.window.overrideredirect(True)
        self.window.attributes("-topmost", True)
        tk.Label(self.window, text="●", background=colour, foreground=theme.WHITE, font=self.fonts.heading).pack(
            side="left", padx=(0, 8))
        self.label = tk.Label(self.window, text=_("Your screen is being shared"), background=colour,
                              foreground=theme.WHITE, font=self.fonts.strong)
        self.label.pack(side="left")
        self.stop_button = tk.Button(
            self.window, text=_("Stop sharing"), command=self.stop, cursor="hand2", relief="flat",
            background=theme.WHITE, foreground=colour, activebackground=theme.SURFACE, activeforeground=colour,
            font=self.fonts.strong, padx=12, pady=3, borderwidth=0, highlightthickness=0,
        )
        self.stop_button.pack(side="left", padx=(16, 0))
        self._place()

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
        button = self.stop_button
        return [button.winfo_rootx() + button.winfo_width() // 2, button.winfo_rooty() + button.winfo_height() // 2]

    def _on_screen(self) -> bool:
        """Mapped and laid out: before that Tk reports a size of 1×1 and a stale position."""
        try:
            return bool(self.stop_button.winfo_ismapped()) and self.stop_button.winfo_width() > 1
        except tk.TclError:
            return False

    def _place(self) -> None:
        self.window.update_idletasks()
        x = (self.window.winfo_screenwidth() - self.window.winfo_reqwidth()) // 2
        self.window.geometry(f"+{max(0, x)}+{MARGIN_TOP}")
        self.window.deiconify()
        self.window.lift()
