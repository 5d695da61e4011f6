"""The chat pane of the help window: the supporter's messages and the customer's, as plain text."""

import re
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from agent.i18n import _
from agent.ui import theme

MAX_CHARS = 2000  # what the queue accepts
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # all but tab and line feed
_LINE_BREAKS = re.compile(r"[\r\n]+")


def clean_text(text: str) -> str:
    """What a message may carry: no control characters but tab and line feed, no outer blanks."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def one_line(text: str) -> str:
    """The single-line input's text: pasted line breaks become spaces."""
    return clean_text(_LINE_BREAKS.sub(" ", text))


class ChatPane(ttk.Frame):
    """The conversation (read-only) above a line to type into and a Send button.

    :param on_send: called with the customer's text; returns False when it could not be sent
        (not connected), and the text then stays in the input.
    :param on_change: called when messages come or go or the connection changes (the window
        decides from that whether there is a chat to show).
    """

    def __init__(self, parent: tk.Misc, palette: theme.Palette, fonts: theme.Fonts, *,
                 on_send: Callable[[str], bool] = lambda text: False, width: int = 440,
                 on_change: Callable[[], None] = lambda: None):
        super().__init__(parent)
        self.on_send = on_send
        self.on_change = on_change
        self.messages: list[dict] = []  # what is shown, for the state hooks: from, name, text
        self.connected = False
        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)
        ttk.Label(self, text=_("Chat with your supporter"), style="Field.TLabel").grid(
            row=0, column=0, columnspan=2, sticky="w", pady=(0, 4))
        # Three lines requested; it grows into the room the window has (see window.WINDOW_HEIGHT).
        self.history = tk.Text(self, height=3, width=40, wrap="word", font=fonts.body, relief="flat",
                               highlightthickness=1, highlightbackground=theme.BORDER,
                               highlightcolor=theme.BORDER, padx=8, pady=6, foreground=theme.TEXT,
                               background=theme.SURFACE, takefocus=0, cursor="arrow")
        self.history.grid(row=1, column=0, columnspan=2, sticky="nsew")
        self.history.tag_configure("expert", foreground=palette.link, font=fonts.strong)
        self.history.tag_configure("customer", foreground=theme.TEXT, font=fonts.strong)
        self.history.tag_configure("note", foreground=theme.MUTED, font=fonts.small)
        self.history.configure(state="disabled")
        self.entry = ttk.Entry(self, font=fonts.body)
        self.entry.grid(row=2, column=0, sticky="ew", pady=(6, 0), padx=(0, 8))
        self.entry.bind("<Return>", lambda event: (self.send(), "break")[1])
        self.entry.bind("<KP_Enter>", lambda event: (self.send(), "break")[1])
        self.send_button = ttk.Button(self, text=_("Send"), command=self.send, style="Small.TButton")
        self.send_button.grid(row=2, column=1, pady=(6, 0))
        self.problem = ttk.Label(self, text="", style="Error.TLabel", wraplength=width, justify="left")
        self.problem.grid(row=3, column=0, columnspan=2, sticky="w")

    def send(self) -> None:
        """Send what the customer typed, and show it once it went out."""
        text = one_line(self.entry.get())
        if not text:
            return
        if len(text) > MAX_CHARS:
            self.problem.configure(text=_("Please keep messages under {limit} characters.").format(limit=MAX_CHARS))
            return
        if not self.on_send(text):
            self.problem.configure(text=_("Not connected — your message was not sent."))
            return
        self.problem.configure(text="")
        self.entry.delete(0, "end")
        self.add_message("customer", _("You"), text)

    def add_message(self, sender: str, name: str, text: str) -> None:
        """One message: ``sender`` is ``expert`` or ``customer``; the text is shown exactly as text."""
        text = clean_text(text)
        if not text:
            return
        self.messages.append({"from": sender, "name": name, "text": text})
        self._append((f"{name}: ", sender), (text + "\n", ""))
        self.on_change()

    def add_note(self, text: str) -> None:
        """A line about the session (someone joined, sharing stopped), not from a person."""
        self.messages.append({"from": "note", "name": "", "text": text})
        self._append((text + "\n", "note"))
        self.on_change()

    def clear(self) -> None:
        """An empty conversation (a new request's session)."""
        self.messages.clear()
        self.history.configure(state="normal")
        self.history.delete("1.0", "end")
        self.history.configure(state="disabled")
        self.entry.delete(0, "end")
        self.problem.configure(text="")
        self.on_change()

    def set_connected(self, connected: bool) -> None:
        """Typing makes sense only while the session channel is up."""
        self.connected = connected
        state = ["!disabled"] if connected else ["disabled"]
        self.entry.state(state)
        self.send_button.state(state)
        if connected:
            self.problem.configure(text="")
        self.on_change()

    def _append(self, *parts: tuple[str, str]) -> None:
        self.history.configure(state="normal")
        for text, tag in parts:
            self.history.insert("end", text, (tag,) if tag else ())
        self.history.configure(state="disabled")
        self.history.see("end")
