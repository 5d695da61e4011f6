"""Small windows around the help window: errors, confirmations, About, and the diagnostics consent."""

import logging
import tkinter as tk
from collections.abc import Callable
from tkinter import messagebox, ttk

from agent import __version__
from agent.i18n import _
from agent.ui import theme
from sosqueue import window_layout as layout
from sosqueue.window_layout import DIAGNOSTIC_LABELS

__all__ = ["DIAGNOSTIC_LABELS", "LOGO_IMAGE", "DiagnosticsPreview", "ask_confirm", "show_about", "show_error"]

log = logging.getLogger("sosqueue.agent")

#: The Tk image name of the module's logo, for every window of the agent to show.
LOGO_IMAGE = "sosqueue-logo"
ABOUT_WIDTH = 380

def show_error(message: str, *, parent: tk.Misc | None = None, title: str | None = None) -> None:
    """Tell the customer what went wrong in a dialog; makes its own root window when there is none.

    :raises agent.errors.NoDisplay: without ``parent`` and without a display.
    """
    own_root = parent is None
    if own_root:
        from agent.ui import create_root

        parent = create_root()
        parent.withdraw()
    try:
        messagebox.showerror(title or _("Support"), message, parent=parent)
    finally:
        if own_root:
            parent.destroy()


def show_about(parent: tk.Misc, *, product: str, company: str, server_url: str, notice: str = "") -> tk.Toplevel:
    """Who provides this support module, its version and the support server it talks to
    (and ``notice``, e.g. that IT has a newer version), under the brand's logo and colours.

    The logo is the help window's (:data:`LOGO_IMAGE`, made by :class:`~agent.ui.window.HelpWindow`);
    without one the box shows the names alone. Return, Escape and Close dismiss it.
    """
    earlier = parent.children.get("about")
    if earlier is not None:
        earlier.destroy()  # one About box; the notice may have changed since
    dialog = tk.Toplevel(parent, name="about")
    dialog.title(_("About {product}").format(product=product))
    dialog.configure(background=theme.WHITE)
    dialog.resizable(False, False)
    if parent.winfo_viewable():
        dialog.transient(parent)
    _about_banner(dialog, product, company).grid(row=0, column=0, sticky="ew")
    body = ttk.Frame(dialog, padding=(24, 16, 24, 16))
    body.grid(row=1, column=0, sticky="nsew")
    lines = [_("Provided by {company}").format(company=company),
             _("Support module version {version}").format(version=__version__),
             _("Support server: {url}").format(url=server_url)]
    for line in lines:
        ttk.Label(body, text=line, wraplength=ABOUT_WIDTH, justify="left").grid(sticky="w", pady=(0, 4))
    if notice:
        ttk.Label(body, text=notice, style="Notice.TLabel", wraplength=ABOUT_WIDTH, justify="left").grid(
            sticky="w", pady=(8, 0))
    close = ttk.Button(body, text=_("Close"), command=dialog.destroy)
    close.grid(sticky="e", pady=(16, 0))
    for key in ("<Return>", "<KP_Enter>", "<Escape>"):
        dialog.bind(key, lambda event: dialog.destroy())
    close.focus_set()
    _centre_over(dialog, parent)
    return dialog


def _about_banner(dialog: tk.Toplevel, product: str, company: str) -> ttk.Frame:
    banner = ttk.Frame(dialog, style="Banner.TFrame", padding=(24, 16))
    if LOGO_IMAGE in dialog.image_names():
        ttk.Label(banner, image=LOGO_IMAGE, style="Banner.TLabel").grid(row=0, column=0, rowspan=2, padx=(0, 14))
    ttk.Label(banner, text=product, style="Banner.TLabel", wraplength=ABOUT_WIDTH - 70).grid(row=0, column=1, sticky="w")
    if company and company != product:
        ttk.Label(banner, text=company, style="BannerSmall.TLabel", wraplength=ABOUT_WIDTH - 70).grid(
            row=1, column=1, sticky="w")
    return banner


def ask_confirm(parent: tk.Misc, *, title: str, message: str, confirm: str, keep: str,
                on_answer: Callable[[bool], None]) -> tk.Toplevel:
    """Ask a yes/no question without blocking; ``on_answer(True)`` only for ``confirm``.

    The safe answer (``keep``) has the focus, so Return or Escape never confirm by accident.
    """
    dialog = tk.Toplevel(parent)
    dialog.title(title)
    dialog.configure(background=theme.WHITE, highlightthickness=1, highlightbackground=theme.BORDER)
    dialog.resizable(False, False)
    if parent.winfo_viewable():
        dialog.transient(parent)
    answered = False

    def answer(value: bool) -> None:
        nonlocal answered
        if answered:
            return
        answered = True
        dialog.destroy()
        on_answer(value)

    frame = ttk.Frame(dialog, padding=(24, 20, 24, 16))
    frame.grid(sticky="nsew")
    ttk.Label(frame, text=message, wraplength=360, justify="left").grid(row=0, column=0, columnspan=3, sticky="w")
    frame.columnconfigure(0, weight=1)
    keep_button = ttk.Button(frame, text=keep, command=lambda: answer(False))
    confirm_button = ttk.Button(frame, text=confirm, command=lambda: answer(True))
    keep_button.grid(row=1, column=1, pady=(20, 0), padx=(0, 8))
    confirm_button.grid(row=1, column=2, pady=(20, 0))
    for button in (keep_button, confirm_button):
        button.bind("<Return>", lambda event: event.widget.invoke())
        button.bind("<KP_Enter>", lambda event: event.widget.invoke())
    dialog.bind("<Escape>", lambda event: answer(False))
    dialog.protocol("WM_DELETE_WINDOW", lambda: answer(False))
    keep_button.focus_set()
    dialog.bind("<Map>", lambda event: _take_focus(dialog, keep_button) if event.widget is dialog else None)
    _centre_over(dialog, parent)
    return dialog


def _take_focus(dialog: tk.Toplevel, button: ttk.Button) -> None:
    """Modal, with the keyboard: the question must be answered before the window goes on."""
    try:
        dialog.grab_set()
    except tk.TclError:  # another application holds a grab; the question still works
        log.debug("could not grab the pointer for the question")
    button.focus_force()


def _centre_over(dialog: tk.Toplevel, parent: tk.Misc) -> None:
    dialog.update_idletasks()
    width, height = dialog.winfo_reqwidth(), dialog.winfo_reqheight()
    if parent.winfo_viewable():
        x = parent.winfo_rootx() + (parent.winfo_width() - width) // 2
        y = parent.winfo_rooty() + (parent.winfo_height() - height) // 3
    else:
        x = (dialog.winfo_screenwidth() - width) // 2
        y = (dialog.winfo_screenheight() - height) // 3
    dialog.geometry(f"+{max(0, x)}+{max(0, y)}")


class DiagnosticsPreview(ttk.Frame):
    """The consent line: a tick box to send details about this computer, and exactly what they are.

    The customer sees every value before the request is sent and can untick the box.
    """

    def __init__(self, parent: tk.Misc, diagnostics: dict):
        super().__init__(parent)
        self.diagnostics = dict(diagnostics)
        self.send = tk.BooleanVar(master=self, value=True)
        self.columnconfigure(0, weight=1)
        check, summary, toggle = (layout.part(key) for key in ("send_details", "details_summary", "details_toggle"))
        self.check = ttk.Checkbutton(self, text=_(check.text), variable=self.send)
        self.check.grid(row=0, column=0, columnspan=2, sticky="w")
        self.summary = ttk.Label(self, text=layout.details_summary(self.diagnostics, _), style="Muted.TLabel",
                                 wraplength=summary.wrap, justify="left")
        self.summary.grid(row=1, column=0, sticky="w", padx=(summary.indent, 0))
        # Beside the summary rather than under it: the form must fit the window (window_layout.WINDOW_HEIGHT).
        self.toggle = ttk.Button(self, text=_(toggle.text), style="Link.TButton", command=self.toggle_details,
                                 cursor="hand2")
        self.toggle.grid(row=1, column=1, sticky="e", padx=(12, 0))  # centred on the row, as the layout's rows are
        self.details = self._details_table()
        self.expanded = False

    def _details_table(self) -> ttk.Frame:
        # Close padding: the form must still fit the window with every field, topic and message shown.
        table = ttk.Frame(self, style="Surface.TFrame", padding=(12, 4))
        for row, (key, value) in enumerate(self.diagnostics.items()):
            ttk.Label(table, text=_(DIAGNOSTIC_LABELS.get(key, key)), style="Surface.TLabel").grid(
                row=row, column=0, sticky="nw", padx=(0, 12))
            ttk.Label(table, text=str(value), style="Surface.TLabel", foreground=theme.TEXT, wraplength=260,
                      justify="left").grid(row=row, column=1, sticky="w")
        return table

    def toggle_details(self) -> None:
        """Show or hide the exact values that would be sent."""
        self.show_details(not self.expanded)

    def show_details(self, expanded: bool) -> None:
        self.expanded = expanded
        if expanded:
            self.summary.grid_remove()
            self.details.grid(row=2, column=0, columnspan=2, sticky="ew", pady=(4, 0), padx=(22, 0))
            self.toggle.configure(text=_("Hide details"))
        else:
            self.details.grid_remove()
            self.summary.grid()
            self.toggle.configure(text=_(layout.part("details_toggle").text))

    @property
    def chosen(self) -> dict | None:
        """What the customer agreed to send: all of it, or nothing."""
        return dict(self.diagnostics) if self.send.get() else None
