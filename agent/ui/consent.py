"""The consent questions: before anything of the screen leaves the computer, and before an expert
uses its mouse and keyboard.

"Alex from Acme IT wants to see your screen — Allow / Deny", in the module's colours with
its logo. Deny is the safe answer: it has the focus, and Escape or closing the window deny.
The question never answers itself: it waits for the customer however long it takes.
"""

import logging
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from tkinter import ttk

from sosqueue.connect import TAKE_BACK_LABEL
from sosqueue.i18n import N_
from sosqueue.module_config import ModuleConfig
from agent.i18n import _
from agent.text import short
from agent.ui import theme

log = logging.getLogger("sosqueue.agent")

WIDTH = 400

__all__ = ["ConsentDialog", "Question", "SEE_SCREEN", "USE_MOUSE_AND_KEYBOARD", "consent_question"]


@dataclass(frozen=True)
class Question:
    """What one consent dialog asks, in English (translated when shown).

    :param title: the window's title.
    :param asks: the question, with ``{expert}`` and ``{company}``.
    :param explains: what allowing means, with ``{keys}`` (the take-back key combination) if needed.
    """

    title: str
    asks: str
    explains: str


SEE_SCREEN = Question(
    N_("Share your screen?"), N_("{expert} from {company} wants to see your screen"),
    N_("They will see what is on your screen while you share it, but cannot control your computer. "
       "You can stop sharing at any time."))
USE_MOUSE_AND_KEYBOARD = Question(
    N_("Allow remote control?"), N_("{expert} from {company} wants to use your mouse and keyboard"),
    N_("They will be able to move your pointer, click and type while you watch. You can take back control at "
       "any time with the button on the sharing bar or by pressing {keys}."))


def consent_question(expert: str, company: str, question: Question = SEE_SCREEN) -> str:
    """The question in the customer's language, e.g. "Alex from Acme IT wants to see your screen"."""
    return _(question.asks).format(expert=short(expert) or _("Your supporter"), company=short(company))


class ConsentDialog:
    """A window of its own, on top of the others, that asks once and reports the answer once.

    :param on_answer: called with True (Allow) or False (Deny, Escape, closing the window).
    :param asks: what it asks: to see the screen (the default), or to use the mouse and keyboard.
    """

    def __init__(self, parent: tk.Misc, config: ModuleConfig, *, expert: str, company: str,
                 on_answer: Callable[[bool], None], asks: Question = SEE_SCREEN):
        self.palette = theme.Palette.from_brand(config.brand)
        self.fonts = theme.make_fonts(parent)  # kept: Tk forgets fonts nobody references
        self.asks = asks
        self.question = consent_question(expert, company or config.brand.company, asks)
        self._on_answer = on_answer
        self._answered = False
        self._images: list[tk.PhotoImage] = []
        self.window = tk.Toplevel(parent)
        self.window.title(_(asks.title))
        self.window.configure(background=theme.WHITE)
        self.window.resizable(False, False)
        self._build_banner(config)
        self._build_body()
        self.window.protocol("WM_DELETE_WINDOW", lambda: self.answer(False))
        self.window.bind("<Escape>", lambda event: self.answer(False))
        self.window.attributes("-topmost", True)  # the customer may be busy in another program
        # Bound before placing: Tk maps the window, and handles its Map event, while placing it.
        self.window.bind("<Map>", lambda event: self._take_focus() if event.widget is self.window else None)
        self.deny_button.focus_set()
        self._place()

    @property
    def open(self) -> bool:
        return not self._answered

    def button_centres(self) -> dict[str, list[int]] | None:
        """Where clicks on Allow and Deny land (screen pixels), or None unless open and laid out."""
        if self._answered:
            return None
        try:
            if not self.allow_button.winfo_ismapped() or self.allow_button.winfo_width() <= 1:
                return None
            return {name: [button.winfo_rootx() + button.winfo_width() // 2,
                           button.winfo_rooty() + button.winfo_height() // 2]
                    for name, button in (("allow", self.allow_button), ("deny", self.deny_button))}
        except tk.TclError:
            return None

    def answer(self, allowed: bool) -> None:
        """Report ``allowed`` (once) and close the window."""
        if self._answered:
            return
        self._close()
        self._on_answer(allowed)

    def dismiss(self) -> None:
        """Close without an answer (the expert went away, or the connection did)."""
        if not self._answered:
            self._close()

    def _close(self) -> None:
        self._answered = True
        self.window.destroy()
        # Fonts and images are freed here, on Tk's thread, not by a garbage collection elsewhere.
        self._images.clear()
        self.fonts = None

    def _build_banner(self, config: ModuleConfig) -> None:
        banner = tk.Frame(self.window, background=self.palette.primary, padx=20, pady=14)
        banner.pack(fill="x")
        logo_data = config.assets.get("logo.png")
        logo = logo_data and theme.photo_image(self.window, logo_data, max_width=40, max_height=40)
        if logo:
            self._images.append(logo)
            tk.Label(banner, image=logo, borderwidth=0, background=self.palette.primary).pack(side="left", padx=(0, 12))
        tk.Label(banner, text=config.brand.product, background=self.palette.primary,
                 foreground=self.palette.on_primary, font=self.fonts.heading).pack(side="left")

    def _build_body(self) -> None:
        body = ttk.Frame(self.window, padding=(20, 18, 20, 16))
        body.pack(fill="both", expand=True)
        body.columnconfigure(0, weight=1)
        self.question_label = ttk.Label(body, text=self.question, style="Heading.TLabel", wraplength=WIDTH,
                                        justify="left")
        self.question_label.grid(row=0, column=0, columnspan=3, sticky="w")
        self.explanation_label = ttk.Label(body, text=_(self.asks.explains).format(keys=TAKE_BACK_LABEL),
                                           wraplength=WIDTH, justify="left")
        self.explanation_label.grid(row=1, column=0, columnspan=3, sticky="w", pady=(8, 0))
        self.deny_button = ttk.Button(body, text=_("Deny"), command=lambda: self.answer(False))
        self.allow_button = ttk.Button(body, text=_("Allow"), style="Primary.TButton",
                                       command=lambda: self.answer(True))
        self.deny_button.grid(row=2, column=1, pady=(18, 0), padx=(0, 8), sticky="e")
        self.allow_button.grid(row=2, column=2, pady=(18, 0), sticky="e")
        for button in (self.deny_button, self.allow_button):
            button.bind("<Return>", lambda event: event.widget.invoke())
            button.bind("<KP_Enter>", lambda event: event.widget.invoke())

    def _take_focus(self) -> None:
        try:
            self.window.focus_force()
        except tk.TclError:
            return
        self.deny_button.focus_set()

    def _place(self) -> None:
        self.window.update_idletasks()
        width, height = self.window.winfo_reqwidth(), self.window.winfo_reqheight()
        x = (self.window.winfo_screenwidth() - width) // 2
        y = (self.window.winfo_screenheight() - height) // 3
        self.window.geometry(f"+{max(0, x)}+{max(0, y)}")
