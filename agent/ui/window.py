"""The help window: ask for help, then see the session code and what is happening to the request.

The window only shows things and reports what the customer does (:class:`WindowActions`);
filing, delivering and following the request is the request model's (:mod:`agent.request`),
presented by the app (:mod:`agent.app`). Its pages are built from the layout description in
:mod:`sosqueue.window_layout`, the one the builder's preview draws, so the two cannot drift apart.
"""

import logging
import re
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from tkinter import ttk

from agent.i18n import _, current_language
from agent.ui import FormValues, WindowActions, normalise_code, theme
from agent.ui.chat import ChatPane
from agent.ui.dialogs import LOGO_IMAGE, DiagnosticsPreview, ask_confirm
from sosqueue import window_layout as layout
from sosqueue.events import MAX_NOTE_CHARS
from sosqueue.module_config import MAX_TOPIC_CHARS, ModuleConfig
from sosqueue.statuses import FINAL_STATUSES, Status
from sosqueue.waiting_room import WaitingRoom
from sosqueue.window_layout import (BANNER_HEIGHT, LOOKS, PAD, TEXT_WIDTH, WAITING_MESSAGE_LINES, WELCOME_LINES,
                                    WINDOW_HEIGHT, WINDOW_WIDTH, Part, Role, When)

__all__ = ["WELCOME_LINES", "WINDOW_HEIGHT", "WINDOW_WIDTH", "FormValues", "HelpWindow",
           "WindowActions", "normalise_code", "visible_parts", "visible_texts", "window_title"]

log = logging.getLogger("sosqueue.agent")

# The window's size, parts, texts and spacing are sosqueue.window_layout's (the preview draws from
# it too); what is only the Tk window's is here.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
LIMITS = {"name": 100, "email": 254, "description": 4000, "topic": MAX_TOPIC_CHARS}  # what the queue accepts
LABEL_STYLES = {Role.BODY: "TLabel", Role.FIELD: "Field.TLabel", Role.MUTED: "Muted.TLabel",
                Role.ERROR: "Error.TLabel", Role.STATUS: "Status.TLabel"}
BUTTON_STYLES = {Role.PRIMARY_BUTTON: "Primary.TButton", Role.BUTTON: "TButton", Role.SMALL_BUTTON: "Small.TButton",
                 Role.LINK: "Link.TButton"}


@dataclass(frozen=True)
class Field:
    """One input of the form with its inline error line."""

    key: str
    widget: tk.Widget
    error: ttk.Label
    mode: str

    def text(self) -> str:
        if isinstance(self.widget, tk.Text):
            return self.widget.get("1.0", "end-1c").strip()
        if isinstance(self.widget, ttk.Combobox):
            return self.widget.get()  # one of the module's topics as it spells it, or none
        return single_line(self.widget.get())


def window_title(config: ModuleConfig) -> str:
    return config.brand.window_title or config.brand.product or _("Support")


def single_line(text: str) -> str:
    """Pasted text may carry line breaks or tabs; a one-line field sends spaces instead."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()


class HelpWindow:
    """The customer's window, built on the Tk root: the form page and the request page."""

    def __init__(self, root: tk.Tk, config: ModuleConfig, actions: WindowActions, *, diagnostics: dict | None = None):
        self.root = root
        self.config = config
        self.actions = actions
        self.palette = theme.Palette.from_brand(config.brand)
        self.fonts = theme.make_fonts(root)
        theme.apply_style(root, self.palette, self.fonts)
        self.view = ""
        self.status = ""
        self.code = ""
        self.room: WaitingRoom | None = None  # where the open request stands, once the queue has said
        self.topic = ""  # the open request's topic
        self._images: list[tk.PhotoImage] = []  # Tk forgets images nobody references
        self._placed = False
        self._chat_offered = False
        self.parts: dict[str, tk.Widget] = {}  # the layout's parts by key (sosqueue.window_layout)
        root.title(window_title(config))
        root.geometry(f"{WINDOW_WIDTH}x{WINDOW_HEIGHT}")
        root.resizable(False, False)
        root.protocol("WM_DELETE_WINDOW", actions.close)
        root.bind("<Escape>", lambda event: actions.close())
        root.bind("<Return>", self._on_return)
        root.bind("<KP_Enter>", self._on_return)
        self._set_icon()
        self.logo = self._named_logo()
        self.banner = self._build_banner()
        self.banner.grid(row=0, column=0, sticky="ew")
        self.form_page = self._build_form(diagnostics)
        self.request_page = self._build_request_page()
        root.columnconfigure(0, weight=1)
        root.rowconfigure(1, weight=1)

    # -- what the app calls ------------------------------------------------------------------

    def apply_brand(self, config: ModuleConfig) -> None:
        """Show the window in ``config``'s brand (a brand refreshed from the queue): colours, logo,
        names and texts change in place; what the customer typed and the request shown stay."""
        self.config = config
        self.palette = theme.Palette.from_brand(config.brand)
        theme.apply_style(self.root, self.palette, self.fonts)
        self.root.title(window_title(config))
        # The old images go first: the named logo's Python object deletes its Tk image, by name, when it goes.
        self._images, self.logo = [], None
        self._set_icon()
        self.logo = self._named_logo()
        old_banner, self.banner = self.banner, self._build_banner()
        old_banner.destroy()
        self.banner.grid(row=0, column=0, sticky="ew")
        self._set_welcome(self.brand_text("welcome"))
        for key in ("privacy", "detail"):
            self.parts[key].configure(text=self._say(layout.part(key)))

    def brand_text(self, kind: str) -> str:
        """The brand's ``kind`` of text (``sosqueue.module_config.BRAND_TEXTS``) in the window's
        language, or the built-in one."""
        return layout.say(layout.Wording(brand=kind), self.config.brand, current_language(), _)

    def show_form(self, *, clear: bool = False, message: str = "") -> None:
        """The form page, focused on its first field."""
        if clear:
            self._clear_form()
        self._switch("form")
        self.set_busy(False, message)
        self.status = ""
        self._first_input().focus_set()

    def show_form_error(self, message: str) -> None:
        """A problem with filing or joining that the customer should read (shown on the form)."""
        self.show_form(message=message)

    def show_request(self, status: str, code: str = "") -> None:
        """The request page: the code (none yet while sending or offline) and the status in words."""
        self._switch("request")
        self.code = code
        self.code_var.set(code or layout.NO_CODE)
        self.copy_button.state(["!disabled"] if self.code else ["disabled"])
        self.set_status(status)

    def set_status(self, status: str) -> None:
        """Put the request's status (queue status, ``sending`` or ``offline``) into plain words."""
        if status != self.status:
            self.show_notice("")  # a note belongs to the status it was shown with
        self.status = status
        colour = layout.ink(Role.STATUS, self.palette, status)
        self.status_label.configure(text=self._say(layout.part("status")), foreground=colour)
        self.status_dot.configure(foreground=colour)
        for key in ("detail", "code_hint"):
            self.parts[key].configure(text=self._say(layout.part(key)))
        final = status in FINAL_STATUSES
        if final:
            self.hide_chat()
            self.set_connection("")
            self.show_waiting_room(None)
        self._show_waiting_message()
        moving = self.root.focus_get() is (self.cancel_button if final else self.again_button)
        for key, widget in (("privacy", self.privacy_label), ("note", self.note_row),
                            ("cancel", self.cancel_button), ("again", self.again_button)):
            open_part = layout.part(key).when is When.OPEN
            if final != open_part and (key != "note" or self.actions.add_note is not None):
                widget.grid()
            else:
                widget.grid_remove()
        if moving:
            (self.again_button if final else self.cancel_button).focus_set()
        if not final:
            self._update_chat()  # a supporter on the request may bring the chat

    def show_waiting_room(self, room: WaitingRoom | None) -> None:
        """Where the open request stands in its group's queue, in words; only what the queue knows
        (nothing while it has not said, or for a request that is over)."""
        self.room = room
        lines = layout.waiting_room_lines(room, _) if room is not None and self.status not in FINAL_STATUSES else []
        label = self.parts["waiting_room"]
        label.configure(text="\n".join(lines))
        if lines:
            label.grid()
        else:
            label.grid_remove()
        self._show_waiting_message()

    def _show_waiting_message(self) -> None:
        """The supporters' waiting message while the request waits for one of them, as plain text in
        a box of at most :data:`WAITING_MESSAGE_LINES` lines that scrolls; it takes the place of the
        brand's waiting text (the line under the status), which says less."""
        text = layout.waiting_message(self.room, self.status)
        if text != self.waiting_message.get("1.0", "end-1c"):
            set_text_view(self.waiting_message, self._waiting_message_bar, text, WAITING_MESSAGE_LINES)
        frame = self.parts["waiting_message"]
        if text and not frame.winfo_manager():
            frame.grid()
            # Its height follows its wrapped lines, known once the grid has given it its width.
            self.root.after_idle(fit_text_view, self.waiting_message, self._waiting_message_bar, WAITING_MESSAGE_LINES)
        elif not text:
            frame.grid_remove()
        if text:
            self.detail_label.grid_remove()
        else:
            self.detail_label.grid()

    def show_topic(self, topic: str) -> None:
        """The topic the customer picked for the request shown ("" hides the line)."""
        self.topic = topic
        self.parts["topic_shown"].configure(text=_(layout.TOPIC_SHOWN).format(topic=topic) if topic else "")

    def show_chat(self) -> ChatPane:
        """Offer the chat pane under the request (the session sets where its messages go).

        It is on screen only once there is a chat: a message, or a supporter on the request while
        the session is connected; until then the waiting screen stays calm.
        """
        self._chat_offered = True
        self._update_chat()
        return self.chat

    def hide_chat(self) -> None:
        self._chat_offered = False
        self._update_chat()

    def chat_shown(self) -> bool:
        return bool(self.chat.winfo_manager())

    def _update_chat(self) -> None:
        chatting = self.chat.messages or (self.chat.connected and self.status == Status.IN_PROGRESS)
        if self._chat_offered and chatting and self.status not in FINAL_STATUSES:
            self.chat.grid()
        else:
            self.chat.grid_remove()

    def set_connection(self, state: str) -> None:
        """How the session channel is doing, in words when the customer should know ("" hides it)."""
        text = _("Reconnecting to the support server…") if state == "reconnecting" else ""
        self.connection_label.configure(text=text)
        if text:
            self.connection_label.grid()
        else:
            self.connection_label.grid_remove()

    def show_notice(self, message: str) -> None:
        """A short note on the request page (e.g. cancelling did not work)."""
        set_error(self.notice_label, message)

    def set_busy(self, busy: bool, message: str = "") -> None:
        """While something is on its way to the queue the buttons wait."""
        state = ["disabled"] if busy else ["!disabled"]
        for button in (self.submit_button, self.join_button, self.code_link):
            button.state(state)
        self.form_message.configure(style="Muted.TLabel" if busy else "Error.TLabel")
        set_error(self.form_message, message)

    def confirm_cancel(self, on_answer: Callable[[bool], None]) -> tk.Toplevel:
        cancel = self._say(layout.part("cancel"))
        return ask_confirm(
            self.root, title=cancel,
            message=_("Do you really want to cancel your request? A supporter will no longer see it."),
            confirm=cancel, keep=_("Keep waiting"), on_answer=on_answer,
        )

    def bring_forward(self) -> None:
        """Show the window on top of the others, with the keyboard focus."""
        if not self._placed:
            self._place_centre()
        self.root.deiconify()
        self.root.lift()
        self.root.attributes("-topmost", True)
        self.root.after(300, lambda: self.root.attributes("-topmost", False))
        self.root.focus_force()
        self._focus_current_page()

    def hide(self) -> None:
        self.root.withdraw()

    def is_visible(self) -> bool:
        return self.root.winfo_viewable() == 1

    def snapshot(self) -> dict:
        """What the customer can see right now (for IT diagnostics and tests)."""
        return {
            "view": self.view, "status": self.status, "code": self.code_var.get() if self.view == "request" else "",
            "visible": self.is_visible(), "title": self.root.title(), "window": self.root.wm_frame(),
            "texts": visible_texts(self.root),
            "topic": self.topic if self.view == "request" else "",
            "waiting_room": self.room.to_json() if self.room is not None and self.view == "request" else None,
        }

    # -- building ------------------------------------------------------------------------------

    def _set_icon(self) -> None:
        data = self.config.assets.get("app.png")
        image = data and theme.photo_image(self.root, data, max_width=512, max_height=512)
        if image:
            self._images.append(image)
            self.root.iconphoto(True, image)

    def _named_logo(self) -> tk.PhotoImage | None:
        """The module's logo at banner size, named for the About box (dialogs.LOGO_IMAGE)."""
        data = self.config.assets.get("logo.png")
        image = data and theme.photo_image(self.root, data, max_width=56, max_height=56)
        if not image:
            return None
        logo = theme.named_copy(self.root, image, LOGO_IMAGE)
        self._images.append(logo)
        return logo

    def _build_banner(self) -> ttk.Frame:
        banner = ttk.Frame(self.root, style="Banner.TFrame")
        data = self.config.assets.get("banner.png")
        image = data and theme.photo_image(self.root, data, max_width=WINDOW_WIDTH, max_height=BANNER_HEIGHT)
        if image:
            self._images.append(image)
            tk.Label(banner, image=image, borderwidth=0, background=self.palette.primary).pack(fill="x")
            return banner
        inner = ttk.Frame(banner, style="Banner.TFrame", padding=(PAD, 18))
        inner.pack(fill="x")
        logo = self.logo
        if logo:
            tk.Label(inner, image=logo, borderwidth=0, background=self.palette.primary).grid(
                row=0, column=0, rowspan=2, padx=(0, 14))
        names_width = TEXT_WIDTH - (70 if logo else 0)
        ttk.Label(inner, text=self.config.brand.product, style="Banner.TLabel", wraplength=names_width).grid(
            row=0, column=1, sticky="w")
        if self.config.brand.company and self.config.brand.company != self.config.brand.product:
            ttk.Label(inner, text=self.config.brand.company, style="BannerSmall.TLabel", wraplength=names_width).grid(
                row=1, column=1, sticky="w")
        return banner

    def _say(self, part: Part) -> str:
        """What ``part`` of the layout says now, in the window's language."""
        return layout.text_of(part, self.config.brand, current_language(), _, self.status)

    def _build_form(self, diagnostics: dict | None) -> ttk.Frame:
        """The request form, or (after "I have a session code") the code to join instead."""
        page = ttk.Frame(self.root, padding=layout.FORM_PADDING)
        page.columnconfigure(0, weight=1)
        page.rowconfigure(0, weight=1)
        self.request_form = self._build_request_form(page, diagnostics)
        self.request_form.grid(row=0, sticky="nsew")
        self.code_row = self._build_code_row(page)
        self.code_row.grid(row=0, sticky="new")
        self.code_row.grid_remove()
        message, link = layout.FORM_PAGE[len(layout.REQUEST_FORM):]
        self.form_message = self._label(page, message)
        self.form_message.grid(row=1, sticky="w", pady=(message.above, 0))
        self.code_link = self._button(page, link, self._toggle_code_row)
        self.code_link.grid(row=2, sticky="w", pady=(link.above, 0))
        return page

    def _build_request_form(self, page: ttk.Frame, diagnostics: dict | None) -> ttk.Frame:
        """The form's parts as the layout lists them (sosqueue.window_layout.REQUEST_FORM)."""
        form = ttk.Frame(page)
        form.columnconfigure(0, weight=1)
        self.fields: dict[str, Field] = {}
        self.diagnostics = None
        modes = self.config.options.fields
        for row in layout.rows(layout.REQUEST_FORM):
            first = row[0]
            if not self._offered(first):
                continue
            if first.key == "topic_label":
                self._topic_row(form, row)
            elif first.role is Role.WELCOME:
                self._welcome(form, self._say(first)).grid(sticky="ew", pady=(first.above, 0))
            elif first.role is Role.GAP:
                self._gap(form, first, diagnostics)
            elif first.role is Role.FIELD:
                self._field_label(form, row, layout.field_mode(first.field, modes))
            elif first.role in (Role.ENTRY, Role.TEXT_BOX):
                self._input(form, first)
            elif first.role is Role.ERROR:
                self._error_label(form, first, layout.field_mode(first.field, modes))
            elif first.role is Role.CHECK:
                if diagnostics:
                    self.diagnostics = DiagnosticsPreview(form, diagnostics)
                    self.diagnostics.grid(sticky="ew", pady=(first.above, 0))
            elif first.role is Role.PRIMARY_BUTTON:
                self.submit_button = self._button(form, first, self.submit)
                self.submit_button.grid(sticky="ew", pady=(first.above, 0))
        for field in self.fields.values():
            field.error.grid_remove()  # only now: a row removed while building would be given to the next one
        return form

    def _offered(self, part: Part) -> bool:
        """Whether the module's form has ``part`` at all: not for a hidden field, nor the topic's
        parts when the module offers no topics."""
        if part.field == "topic" or part.when is When.TOPICS:
            return bool(self.config.options.topics)
        return not part.field or layout.field_mode(part.field, self.config.options.fields) != "hidden"

    def _topic_row(self, parent: ttk.Frame, row: tuple[Part, ...]) -> None:
        """The question and the module's topics to pick from: a read-only list with nothing picked at
        first. As in a Windows drop-down list, Tab reaches it, the arrow keys step through the topics,
        and Alt+Down or F4 (or a click) opens the list."""
        label, part = row
        frame = ttk.Frame(parent)
        frame.grid(sticky="ew", pady=(label.above, 0))
        self._label(frame, label).pack(side="left", padx=(0, 8))
        labels = [topic.label for topic in self.config.options.topics]
        box = ttk.Combobox(frame, values=labels, state="readonly", font=self.fonts.body, height=len(labels))
        box.pack(side="left", fill="x", expand=True)
        box.bind("<Down>", lambda event: (self._step_topic(box, 1), "break")[1])
        box.bind("<Up>", lambda event: (self._step_topic(box, -1), "break")[1])
        for keys in ("<Alt-Down>", "<F4>"):
            box.bind(keys, lambda event: (box.tk.call("ttk::combobox::Post", box), "break")[1])
        self.parts[part.key] = box

    @staticmethod
    def _step_topic(box: ttk.Combobox, step: int) -> None:
        """The next (or previous) topic; the first one when none is picked yet."""
        count = len(box.cget("values"))
        current = box.current()
        box.current(0 if current < 0 else min(max(current + step, 0), count - 1))

    def _gap(self, form: ttk.Frame, part: Part, diagnostics: dict | None) -> None:
        if part.when is When.DIAGNOSTICS and not diagnostics:
            return
        gap = ttk.Frame(form, height=part.above)
        if part.field:  # a field's message takes its gap's place, so that the form still fits with every message
            gap.grid(row=self.fields[part.field].error.grid_info()["row"])
        else:
            gap.grid()

    def _welcome(self, parent: ttk.Frame, text: str) -> ttk.Frame:
        """The welcome text, at most :data:`WELCOME_LINES` high: a brand's text may be long, and
        then it scrolls, so that the form below it always fits the window."""
        frame, self.welcome, self._welcome_bar = self._text_view(parent, WELCOME_LINES)
        self._set_welcome(text)
        return frame

    def _set_welcome(self, text: str) -> None:
        set_text_view(self.welcome, self._welcome_bar, text, WELCOME_LINES)

    def _text_view(self, parent: tk.Misc, most_lines: int) -> tuple[ttk.Frame, tk.Text, ttk.Scrollbar]:
        """Read-only text wrapped at words, at most ``most_lines`` high, with a scroll bar once it is longer."""
        frame = ttk.Frame(parent)
        frame.columnconfigure(0, weight=1)
        box = tk.Text(frame, height=1, width=1, wrap="word", font=self.fonts.body, relief="flat", borderwidth=0,
                      highlightthickness=0, padx=0, pady=0, foreground=theme.TEXT, background=theme.WHITE,
                      takefocus=0, cursor="arrow", state="disabled")
        box.grid(row=0, column=0, sticky="ew")
        bar = ttk.Scrollbar(frame, orient="vertical", command=box.yview)
        box.configure(yscrollcommand=bar.set)
        box.bind("<Configure>", lambda event: fit_text_view(box, bar, most_lines))
        return frame, box, bar

    def _label(self, parent: tk.Misc, part: Part) -> ttk.Label:
        return ttk.Label(parent, text=self._say(part), style=LABEL_STYLES[part.role], wraplength=part.wrap,
                         justify="left")

    def _button(self, parent: tk.Misc, part: Part, command: Callable[[], None]) -> ttk.Button:
        button = ttk.Button(parent, text=self._say(part), style=BUTTON_STYLES[part.role], command=command)
        if part.role is Role.LINK:
            button.configure(cursor="hand2")
        return button

    def _field_label(self, parent: ttk.Frame, row: tuple[Part, ...], mode: str) -> None:
        """A field's label, and "(optional)" beside it when the customer may leave it empty."""
        frame = ttk.Frame(parent)
        label = row[0]
        self._label(frame, label).pack(side="left")
        if mode == "optional":
            self._label(frame, row[1]).pack(side="left")
        frame.grid(sticky="w", pady=(label.above, 0))

    def _input(self, parent: ttk.Frame, part: Part) -> None:
        if part.role is Role.ENTRY:
            widget = ttk.Entry(parent, font=self.fonts.body)
            widget.grid(sticky="ew", pady=(part.above, 0))
        else:
            widget = self._text_box(parent, part)
        self.parts[part.key] = widget

    def _text_box(self, parent: ttk.Frame, part: Part) -> tk.Text:
        # The row grows into whatever the window has left, and shrinks to one line before anything
        # below it would be cut off (see WINDOW_HEIGHT).
        look = LOOKS[part.role]
        box = tk.Text(parent, height=layout.TEXT_BOX_LINES, width=40, wrap="word", font=self.fonts.body,
                      relief="flat", borderwidth=1, highlightthickness=1, highlightbackground=theme.BORDER,
                      highlightcolor=self.palette.primary, padx=look.padding[0], pady=look.padding[1],
                      foreground=theme.TEXT, background=theme.WHITE, insertbackground=theme.TEXT, undo=True)
        box.grid(sticky="nsew", pady=(part.above, 0))
        one_line = self.fonts.body.metrics("linespace") + 2 * (look.padding[1] + look.frame)
        parent.rowconfigure(box.grid_info()["row"], weight=1, minsize=one_line)
        # Tab moves on and Return submits, as in every other field; Shift+Return starts a new line.
        box.bind("<Tab>", lambda event: (event.widget.tk_focusNext().focus_set(), "break")[1])
        box.bind("<Shift-Tab>", lambda event: (event.widget.tk_focusPrev().focus_set(), "break")[1])
        box.bind("<ISO_Left_Tab>", lambda event: (event.widget.tk_focusPrev().focus_set(), "break")[1])
        box.bind("<Return>", lambda event: (self.submit(), "break")[1])
        box.bind("<Shift-Return>", lambda event: (event.widget.insert("insert", "\n"), "break")[1])
        return box

    def _error_label(self, parent: ttk.Frame, part: Part, mode: str) -> None:
        """A field's message line, shown with a message (set_error) so that fields sit close together."""
        label = self._label(parent, part)
        label.grid(sticky="w", pady=(part.above, 0))
        self.fields[part.field] = field = Field(part.field, self.parts[part.field], label, mode)
        self._clear_on_edit(field)

    def _clear_on_edit(self, field: Field) -> None:
        """A field's message goes as soon as the customer changes what it is about."""
        if isinstance(field.widget, tk.Text):
            field.widget.bind("<<Modified>>", lambda event: self._edited_text(field), add=True)
        else:
            variable = tk.StringVar(master=field.widget)
            field.widget.configure(textvariable=variable)
            variable.trace_add("write", lambda *args: set_error(field.error, ""))
            field.widget.variable = variable  # Tk forgets variables nobody references

    def _edited_text(self, field: Field) -> None:
        if field.widget.edit_modified():
            field.widget.edit_modified(False)  # so that the next change tells again
            set_error(field.error, "")

    def _build_code_row(self, page: ttk.Frame) -> ttk.Frame:
        row = ttk.Frame(page, padding=(0, 6, 0, 0))
        row.columnconfigure(0, weight=1)
        ttk.Label(row, text=_("The session code your supporter gave you"), style="Field.TLabel").grid(
            row=0, column=0, columnspan=2, sticky="w", pady=(0, 4))
        self.code_variable = tk.StringVar(master=row)
        self.code_entry = ttk.Entry(row, font=self.fonts.heading, width=14, textvariable=self.code_variable)
        self.code_variable.trace_add("write", lambda *args: set_error(self.code_error, ""))
        self.code_entry.grid(row=1, column=0, sticky="ew", padx=(0, 8))
        self.join_button = ttk.Button(row, text=_("Join"), command=self.join)
        self.join_button.grid(row=1, column=1)
        self.code_error = ttk.Label(row, text="", style="Error.TLabel")
        self.code_error.grid(row=2, column=0, columnspan=2, sticky="w", pady=(2, 0))
        self.code_error.grid_remove()
        return row

    def _build_request_page(self) -> ttk.Frame:
        """The request page's parts as the layout lists them (sosqueue.window_layout.REQUEST_PAGE)."""
        page = ttk.Frame(self.root, padding=layout.REQUEST_PADDING)
        page.columnconfigure(0, weight=1)
        builders = {"code_title": self._title_row, "code": self._code_box, "code_hint": self._plain_row,
                    "status_dot": self._status_row, "detail": self._plain_row, "privacy": self._plain_row,
                    "waiting_room": self._plain_row, "waiting_message": self._message_row,
                    "connection": self._plain_row, "notice": self._plain_row, "note": self._note_row,
                    "cancel": self._request_buttons, "chat": self._chat}
        for row in layout.rows(layout.REQUEST_PAGE):
            builders[row[0].key](page, row)
        # Hidden only now: a row removed while building would be given to the next one.
        hidden = [self.parts[part.key] for part in layout.REQUEST_PAGE if part.key in self.parts
                  and part.when is When.MESSAGE and not part.beside]  # one beside another is empty instead
        for widget in [*hidden, self.chat] + ([self.note_row] if self.actions.add_note is None else []):
            widget.grid_remove()
        self.code_hint, self.detail_label, self.privacy_label = (
            self.parts["code_hint"], self.parts["detail"], self.parts["privacy"])
        self.connection_label, self.notice_label = self.parts["connection"], self.parts["notice"]
        return page

    def _plain_row(self, page: ttk.Frame, row: tuple[Part, ...]) -> None:
        part = row[0]
        label = self.parts[part.key] = self._label(page, part)
        label.grid(sticky="w", pady=(part.above, 0))

    def _message_row(self, page: ttk.Frame, row: tuple[Part, ...]) -> None:
        part = row[0]
        frame, self.waiting_message, self._waiting_message_bar = self._text_view(page, WAITING_MESSAGE_LINES)
        frame.grid(sticky="ew", pady=(part.above, 0))
        self.parts[part.key] = frame

    def _title_row(self, page: ttk.Frame, row: tuple[Part, ...]) -> None:
        """The code's title, and at the right the request's topic once there is one."""
        title, topic = row
        frame = ttk.Frame(page)
        frame.grid(sticky="ew", pady=(title.above, 0))
        self._label(frame, title).pack(side="left")
        self.parts[topic.key] = self._label(frame, topic)
        self.parts[topic.key].pack(side="right")

    def _code_box(self, page: ttk.Frame, row: tuple[Part, ...]) -> None:
        code, copy = row
        box = ttk.Frame(page, style="Surface.TFrame", padding=layout.CODE_BOX_PADDING)
        box.grid(sticky="ew", pady=(code.above, 0))
        box.columnconfigure(0, weight=1)
        self.code_var = tk.StringVar(master=self.root, value="")
        self.code_field = ttk.Entry(box, textvariable=self.code_var, state="readonly", style="Code.TEntry",
                                    font=self.fonts.code, justify="center", width=11, takefocus=1)
        self.code_field.grid(row=0, column=0, sticky="ew")
        self.copy_button = self._button(box, copy, self.copy_code)
        self.copy_button.grid(row=0, column=1, padx=(10, 0))

    def _status_row(self, page: ttk.Frame, row: tuple[Part, ...]) -> None:
        dot, status = row
        frame = ttk.Frame(page)
        frame.grid(sticky="w", pady=(dot.above, 0))
        self.status_dot = self._label(frame, dot)
        self.status_dot.pack(side="left", padx=(0, 8))
        self.status_label = self._label(frame, status)
        self.status_label.pack(side="left")

    def _note_row(self, page: ttk.Frame, row: tuple[Part, ...]) -> None:
        """A line for the supporter while the request is open (only when the app takes notes)."""
        note, add = row
        self.note_row = ttk.Frame(page)
        self.note_row.grid(sticky="ew", pady=(note.above, 0))
        self.note_row.columnconfigure(0, weight=1)
        self.note_variable = tk.StringVar(master=self.note_row)
        self.note_variable.trace_add("write", lambda *args: self._limit_note())
        self.note_entry = ttk.Entry(self.note_row, font=self.fonts.body, textvariable=self.note_variable)
        self.note_entry.grid(row=0, column=0, sticky="ew", padx=(0, 8))
        self.note_button = self._button(self.note_row, add, self.add_note)
        self.note_button.grid(row=0, column=1)

    def _request_buttons(self, page: ttk.Frame, row: tuple[Part, ...]) -> None:
        cancel, again = row
        buttons = ttk.Frame(page)
        buttons.grid(sticky="e", pady=(cancel.above, 0))
        self.cancel_button = self._button(buttons, cancel, self._ask_cancel)
        self.cancel_button.grid(row=0, column=0)
        self.again_button = self._button(buttons, again, lambda: self.show_form(clear=True))
        self.again_button.grid(row=0, column=1)

    def _chat(self, page: ttk.Frame, row: tuple[Part, ...]) -> None:
        # Last on the page, so Tab reaches the request's buttons first.
        self.chat = ChatPane(page, self.palette, self.fonts, width=TEXT_WIDTH, on_change=self._update_chat)
        self.chat.grid(sticky="nsew", pady=(row[0].above, 0))
        page.rowconfigure(self.chat.grid_info()["row"], weight=1)

    # -- what the customer does ----------------------------------------------------------------

    def submit(self) -> None:
        """Check the form; report the values when they are complete, else say what is missing."""
        if self.view != "form" or "disabled" in self.submit_button.state():
            return
        values, first_problem = self._validated()
        if first_problem is not None:
            first_problem.focus_set()
            return
        self.actions.request_help(values)

    def join(self) -> None:
        """Join the request whose session code the customer typed."""
        if "disabled" in self.join_button.state():
            return
        code = normalise_code(self.code_entry.get())
        if code is None:
            set_error(self.code_error, _("A session code looks like s12-345-678."))
            self.code_entry.focus_set()
            return
        set_error(self.code_error, "")
        self.actions.join_code(code)

    def add_note(self) -> None:
        """Send the typed line to the supporter as a note on the request; it goes once it is added."""
        text = single_line(self.note_entry.get())
        if not text or self.actions.add_note is None or self.status in FINAL_STATUSES:
            return
        if self.actions.add_note(text):
            self.note_entry.delete(0, "end")

    def _limit_note(self) -> None:
        text = self.note_variable.get()
        if len(text) > MAX_NOTE_CHARS:
            self.note_variable.set(text[:MAX_NOTE_CHARS])

    def copy_code(self) -> None:
        """Put the session code on the clipboard."""
        if not self.code:
            return
        self.root.clipboard_clear()
        self.root.clipboard_append(self.code)
        self.copy_button.configure(text=_("Copied"))
        self.root.after(2000, lambda: self.copy_button.configure(text=self._say(layout.part("copy"))))

    def _ask_cancel(self) -> None:
        def answered(yes: bool) -> None:
            if yes:
                self.actions.cancel_request()
            else:
                self.cancel_button.focus_set()

        self.confirm_cancel(answered)

    def _toggle_code_row(self) -> None:
        self._show_code_row(not self.joining())
        self._first_input().focus_set()

    def joining(self) -> bool:
        """The form page asks for a session code instead of a new request."""
        return bool(self.code_row.winfo_manager())

    def _show_code_row(self, joining: bool) -> None:
        """Joining needs only the code, so it takes the request form's place."""
        shown, hidden = (self.code_row, self.request_form) if joining else (self.request_form, self.code_row)
        hidden.grid_remove()
        shown.grid()
        self.code_link.configure(text=_("Back to the request form") if joining else self._say(layout.part("code_link")))

    def _on_return(self, event) -> str | None:
        widget = event.widget
        if isinstance(widget, ttk.Button):
            widget.invoke()
        elif widget is self.code_entry:
            self.join()
        elif widget is self.note_entry:
            self.add_note()
        elif self.view == "form" and self.joining():
            self.join()
        elif self.view == "form":
            self.submit()
        return "break"

    # -- helpers -------------------------------------------------------------------------------

    def _validated(self) -> tuple[FormValues, tk.Widget | None]:
        texts = {key: field.text() for key, field in self.fields.items()}
        first_problem = None
        for key, field in self.fields.items():
            problem = _problem(key, texts[key], field.mode)
            set_error(field.error, problem)
            if problem and first_problem is None:
                first_problem = field.widget
        chosen = self.diagnostics.chosen if self.diagnostics else None
        return FormValues(diagnostics=chosen, **texts), first_problem

    def _first_input(self) -> tk.Widget:
        if self.joining():
            return self.code_entry
        return next((field.widget for field in self.fields.values()), self.submit_button)

    def _clear_form(self) -> None:
        description = self.fields.get("description")
        if description is not None:
            description.widget.delete("1.0", "end")
        topic = self.fields.get("topic")
        if topic is not None:
            topic.widget.set("")
        for field in self.fields.values():
            set_error(field.error, "")
        self.code_entry.delete(0, "end")
        set_error(self.code_error, "")
        self._show_code_row(False)

    def _switch(self, view: str) -> None:
        if self.view == view:
            return
        self.view = view
        shown, hidden = (self.form_page, self.request_page) if view == "form" else (self.request_page, self.form_page)
        hidden.grid_remove()
        shown.grid(row=1, column=0, sticky="nsew")
        self.root.after_idle(self._focus_current_page)  # the focused widget may have just been hidden

    def _focus_current_page(self) -> None:
        if self.view == "form":
            self._first_input().focus_set()
        elif self.view == "request":
            (self.again_button if self.status in FINAL_STATUSES else self.code_field).focus_set()

    def _place_centre(self) -> None:
        self.root.update_idletasks()
        width, height = self.root.winfo_reqwidth(), self.root.winfo_reqheight()
        x = (self.root.winfo_screenwidth() - width) // 2
        y = max(0, (self.root.winfo_screenheight() - height) // 3)
        self.root.geometry(f"+{x}+{y}")
        self._placed = True


def set_error(label: ttk.Label, message: str) -> None:
    """Show ``message`` under its field, or take the line away when there is none."""
    label.configure(text=message)
    if message:
        label.grid()
    else:
        label.grid_remove()


def set_text_view(box: tk.Text, bar: ttk.Scrollbar, text: str, most_lines: int) -> None:
    """Put ``text`` into a read-only text view (``HelpWindow._text_view``) as plain text: nothing in it is markup."""
    box.configure(state="normal")
    box.delete("1.0", "end")
    box.insert("1.0", text)
    box.configure(state="disabled")
    if box.winfo_ismapped():
        fit_text_view(box, bar, most_lines)


def fit_text_view(box: tk.Text, bar: ttk.Scrollbar, most_lines: int) -> None:
    """As high as its wrapped text, but at most ``most_lines``; the scroll bar only when it has more."""
    lines = box.count("1.0", "end", "displaylines", "update")
    lines = lines[0] if isinstance(lines, tuple) else lines or 1
    height = min(lines, most_lines)
    if int(box.cget("height")) != height:
        box.configure(height=height)
    if lines > most_lines:
        bar.grid(row=0, column=1, sticky="ns", padx=(6, 0))
    else:
        bar.grid_remove()


def _problem(key: str, text: str, mode: str) -> str:
    """What is wrong with one field's text, in words for the customer ("" when it is fine)."""
    if not text:
        if mode != "required":
            return ""
        return {"name": _("Please enter your name."), "email": _("Please enter your email address."),
                "description": _("Please describe your problem."),
                "topic": _("Please choose what your request is about.")}[key]
    if len(text) > LIMITS[key]:
        return _("Please keep this under {limit} characters.").format(limit=LIMITS[key])
    if key == "email" and not EMAIL.match(text):
        return _("This does not look like an email address (name@example.com).")
    return ""


def visible_texts(root: tk.Misc) -> list[str]:
    """Every text on screen in the window, top to bottom (labels, buttons, fields)."""
    return [text for text, _widget in visible_parts(root)]


def visible_parts(root: tk.Misc) -> list[tuple[str, tk.Misc]]:
    """Every text on screen in the window with the widget showing it, in the order of the layout."""
    found = []
    stack = [root]
    while stack:
        widget = stack.pop(0)
        if isinstance(widget, tk.Toplevel):
            continue  # dialogs and the tray's button are windows of their own
        stack[:0] = widget.winfo_children()
        if widget is root or not widget.winfo_ismapped():
            continue
        text = _widget_text(widget)
        if text:
            found.append((text, widget))
    return found


def _widget_text(widget: tk.Misc) -> str:
    if isinstance(widget, (ttk.Entry, tk.Entry)):
        return widget.get()
    if isinstance(widget, tk.Text):
        return widget.get("1.0", "end-1c")
    try:
        return str(widget.cget("text"))
    except tk.TclError:
        return ""
