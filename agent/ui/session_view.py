"""The request's session on screen: the consent dialogs, the sharing bar (who is in control) and the window's chat pane.

:class:`TkSessionView` is the Tk side of :class:`agent.connect.session.SessionView`.
"""

import tkinter as tk
from collections.abc import Callable

from agent.ui.chat import ChatPane
from agent.ui.consent import USE_MOUSE_AND_KEYBOARD, ConsentDialog
from agent.ui.sharing import SharingIndicator
from sosqueue.module_config import ModuleConfig


class TkSessionView:
    """Dialogs of their own on ``root``, and chat lines in ``chat`` (None: the session has no chat pane)."""

    def __init__(self, root: tk.Misc, config: ModuleConfig, chat: ChatPane | None = None):
        self.root = root
        self.config = config
        self.chat = chat
        self.dialog: ConsentDialog | None = None
        self.indicator: SharingIndicator | None = None

    def ask_consent(self, expert: str, company: str, on_answer: Callable[[bool], None]) -> None:
        self.dialog = ConsentDialog(self.root, self.config, expert=expert, company=company, on_answer=on_answer)

    def ask_control(self, expert: str, company: str, on_answer: Callable[[bool], None]) -> None:
        self.dialog = ConsentDialog(self.root, self.config, expert=expert, company=company, on_answer=on_answer,
                                    asks=USE_MOUSE_AND_KEYBOARD)

    def asking(self) -> bool:
        return self.dialog is not None and self.dialog.open

    def withdraw_question(self) -> None:
        if self.dialog is not None:
            self.dialog.dismiss()

    def show_sharing_bar(self, on_stop: Callable[[], None]) -> None:
        self.hide_sharing_bar()
        self.indicator = SharingIndicator(self.root, self.config, on_stop=lambda: self._stopped(on_stop))

    def _stopped(self, on_stop: Callable[[], None]) -> None:
        self.indicator = None  # the bar took itself away
        on_stop()

    def hide_sharing_bar(self) -> None:
        if self.indicator is not None:
            self.indicator.destroy()
            self.indicator = None

    def sharing_bar_shown(self) -> bool:
        return self.indicator is not None

    def show_control(self, expert: str, on_take_back: Callable[[], None]) -> None:
        if self.indicator is not None:  # control stands only while the screen is shared
            self.indicator.show_control(expert, on_take_back)

    def hide_control(self) -> None:
        if self.indicator is not None:
            self.indicator.hide_control()

    def control_shown(self) -> bool:
        return self.indicator is not None and self.indicator.control_shown()

    def add_message(self, name: str, text: str) -> None:
        if self.chat is not None:
            self.chat.add_message("expert", name, text)

    def add_note(self, text: str) -> None:
        if self.chat is not None:
            self.chat.add_note(text)

    def set_connected(self, connected: bool) -> None:
        if self.chat is not None:
            self.chat.set_connected(connected)

    def send_chat_with(self, send: Callable[[str], bool]) -> None:
        if self.chat is not None:
            self.chat.on_send = send

    def snapshot(self) -> dict:
        dialog, indicator = self.dialog, self.indicator
        return {
            "consent_buttons": dialog.button_centres() if dialog else None,
            "chat": list(self.chat.messages) if self.chat else [],
            "sharing_bar": indicator.geometry() if indicator else "",
            "stop_sharing_at": indicator.stop_button_centre() if indicator else None,
            "take_back_at": indicator.take_back_centre() if indicator else None,
        }
