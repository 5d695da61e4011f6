"""The help window on a real X display: the form, the session code, the status, the keyboard."""

import dataclasses
import gc
import subprocess
import tkinter as tk
import tkinter.font as tkfont
from pathlib import Path
from tkinter import ttk

import pytest

from agent import i18n
from agent.ui import FormValues, WindowActions, normalise_code
from agent.ui.dialogs import LOGO_IMAGE
from agent.ui.sharing import SharingIndicator
from agent.ui.window import WELCOME_LINES, WINDOW_HEIGHT, WINDOW_WIDTH, HelpWindow, visible_texts
from sosqueue.events import MAX_NOTE_CHARS
from sosqueue.module_config import Topic
from sosqueue.waiting_room import WaitingRoom
from tests.agent.ui.support import needs_x_tools, pump
from tests.support.modules import module_config

pytestmark = needs_x_tools

DIAGNOSTICS = {"os": "Linux 6.1", "hostname": "frontdesk-7", "agent_version": "0.1.0", "locale": "de_DE"}


class Recorder:
    """Keeps what the window reported, in order."""

    def __init__(self):
        self.calls: list[tuple[str, object]] = []
        self.note_added = True  # what add_note answers

    def actions(self) -> WindowActions:
        return WindowActions(
            request_help=lambda values: self.calls.append(("request_help", values)),
            join_code=lambda code: self.calls.append(("join_code", code)),
            cancel_request=lambda: self.calls.append(("cancel_request", None)),
            close=lambda: self.calls.append(("close", None)),
            add_note=self._add_note,
        )

    def _add_note(self, text: str) -> bool:
        self.calls.append(("add_note", text))
        return self.note_added

    def named(self, name: str) -> list:
        return [value for call, value in self.calls if call == name]


def make_window(root, recorder: Recorder, *, diagnostics=None, **overrides) -> HelpWindow:
    config = module_config(server_url="http://127.0.0.1:9", module_id="m-window", module_token="t" * 24, **overrides)
    window = HelpWindow(root, config, recorder.actions(), diagnostics=diagnostics)
    window.show_form()
    window.bring_forward()
    pump(root, window.is_visible, what="the window to show")
    return window


def keys(display: str, *names: str) -> None:
    subprocess.run(["xdotool", "key", "--delay", "30", *names], env={"DISPLAY": display, "PATH": "/usr/bin:/bin"},
                   check=True, timeout=30)


def type_text(display: str, text: str) -> None:
    subprocess.run(["xdotool", "type", "--delay", "15", text], env={"DISPLAY": display, "PATH": "/usr/bin:/bin"},
                   check=True, timeout=30)


def screenshot(root: tk.Tk, path: Path) -> Path:
    root.update()
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["import", "-window", root.wm_frame(), str(path)],
                   env={"DISPLAY": root.winfo_screen(), "PATH": "/usr/bin:/bin"}, check=True, timeout=30)
    return path


def focus(root: tk.Tk, widget: tk.Misc) -> None:
    root.focus_force()
    widget.focus_force()
    pump(root, lambda: root.focus_get() is widget, what="the keyboard focus")


@pytest.fixture
def recorder():
    return Recorder()


def test_required_fields_left_empty_show_inline_messages_and_nothing_is_sent(tk_root, recorder, display):
    """Return on an empty form names each missing required field and files nothing."""
    window = make_window(tk_root, recorder, fields={"name": "required", "email": "required", "description": "required"})
    focus(tk_root, window.fields["name"].widget)
    keys(display, "Return")
    pump(tk_root, lambda: "Please enter your name." in visible_texts(tk_root), what="the inline message")
    texts = visible_texts(tk_root)
    assert "Please enter your email address." in texts
    assert "Please describe your problem." in texts
    assert recorder.named("request_help") == []
    assert tk_root.focus_get() is window.fields["name"].widget


def test_an_email_address_without_at_sign_is_refused_inline(tk_root, recorder, display):
    """A malformed email address is named under its field; the corrected one is sent."""
    window = make_window(tk_root, recorder, fields={"name": "hidden", "email": "required", "description": "optional"})
    focus(tk_root, window.fields["email"].widget)
    type_text(display, "alice.example.com")
    keys(display, "Return")
    message = "This does not look like an email address (name@example.com)."
    pump(tk_root, lambda: message in visible_texts(tk_root), what="the email message")
    assert recorder.named("request_help") == []
    window.fields["email"].widget.delete(0, "end")
    type_text(display, "alice@example.com")
    keys(display, "Return")
    pump(tk_root, lambda: recorder.named("request_help"), what="the request")
    assert recorder.named("request_help")[0].email == "alice@example.com"
    assert message not in visible_texts(tk_root)


def test_typing_the_form_and_pressing_return_sends_what_was_typed(tk_root, recorder, display):
    """Tab moves through the fields in order and Return sends name, email and description."""
    window = make_window(tk_root, recorder, diagnostics=DIAGNOSTICS,
                         fields={"name": "optional", "email": "optional", "description": "required"})
    focus(tk_root, window.fields["name"].widget)
    type_text(display, "Alice Smith")
    keys(display, "Tab")
    type_text(display, "alice@example.com")
    keys(display, "Tab")
    type_text(display, "The printer is on fire")
    keys(display, "Return")
    sent = pump(tk_root, lambda: recorder.named("request_help"), what="the request")[0]
    assert sent == FormValues(name="Alice Smith", email="alice@example.com", description="The printer is on fire",
                              diagnostics=DIAGNOSTICS)


def test_shift_return_starts_a_new_line_in_the_description(tk_root, recorder, display):
    """Shift+Return writes a line break instead of sending the form."""
    window = make_window(tk_root, recorder, fields={"name": "hidden", "email": "hidden", "description": "required"})
    focus(tk_root, window.fields["description"].widget)
    type_text(display, "first")
    keys(display, "shift+Return")
    type_text(display, "second")
    keys(display, "Return")
    sent = pump(tk_root, lambda: recorder.named("request_help"), what="the request")[0]
    assert sent.description == "first\nsecond"


def test_hidden_fields_are_not_shown_and_optional_ones_say_so(tk_root, recorder):
    """The module's field modes decide what the form asks."""
    window = make_window(tk_root, recorder, fields={"name": "hidden", "email": "optional", "description": "required"})
    texts = visible_texts(tk_root)
    assert "Your name" not in texts
    assert "Your email address" in texts and " (optional)" in texts
    assert texts.count(" (optional)") == 1
    assert set(window.fields) == {"email", "description"}
    assert tk_root.focus_get() is window.fields["email"].widget


def test_the_consent_line_lists_the_diagnostics_and_shows_every_value_on_request(tk_root, recorder):
    """Before sending, the customer can read exactly what is sent about the computer."""
    window = make_window(tk_root, recorder, diagnostics=DIAGNOSTICS)
    texts = visible_texts(tk_root)
    assert "Send details about this computer" in texts
    assert any("Computer name" in text for text in texts)
    assert "frontdesk-7" not in texts
    window.diagnostics.toggle.invoke()
    tk_root.update()
    assert "frontdesk-7" in visible_texts(tk_root)


def test_unticking_the_consent_sends_no_diagnostics(tk_root, recorder):
    """Without the tick no details about the computer go with the request."""
    window = make_window(tk_root, recorder, diagnostics=DIAGNOSTICS, fields={"description": "optional"})
    window.diagnostics.check.invoke()
    window.submit_button.invoke()
    assert recorder.named("request_help")[0].diagnostics is None


def test_escape_asks_the_app_to_close_the_window(tk_root, recorder, display):
    """Escape is the keyboard's way to close (or hide) the window."""
    window = make_window(tk_root, recorder)
    focus(tk_root, window.fields["description"].widget)
    keys(display, "Escape")
    pump(tk_root, lambda: recorder.named("close"), what="the close request")


def test_a_typed_session_code_is_joined_in_its_display_form(tk_root, recorder, display):
    """'I have a session code' takes any spelling of a code and joins it as s12-345-678."""
    window = make_window(tk_root, recorder)
    window.code_link.invoke()
    pump(tk_root, lambda: tk_root.focus_get() is window.code_entry, what="the code field's focus")
    type_text(display, "S12 345 678")
    keys(display, "Return")
    assert pump(tk_root, lambda: recorder.named("join_code"), what="the join") == ["s12-345-678"]
    assert recorder.named("request_help") == []


def test_a_malformed_session_code_is_refused_inline(tk_root, recorder):
    """Letters or too few digits get an example of a code, and nothing is joined."""
    window = make_window(tk_root, recorder)
    window.code_link.invoke()
    window.code_entry.insert(0, "1234")
    window.join_button.invoke()
    tk_root.update()
    assert "A session code looks like s12-345-678." in visible_texts(tk_root)
    assert recorder.named("join_code") == []


@pytest.mark.parametrize(("text", "code"), [
    ("s12-345-678", "s12-345-678"), ("S12345678", "s12-345-678"), ("12 345 678", "s12-345-678"),
    (" s12.345.678 ", "s12-345-678"), ("s12-345-67", None), ("x12-345-678", None), ("", None),
])
def test_normalise_code_accepts_the_spellings_the_queue_accepts(text, code):
    """Separators and case do not matter; eight digits do."""
    assert normalise_code(text) == code


def test_the_session_code_is_shown_large_and_can_be_copied(tk_root, recorder):
    """The code sits in a read-only field in a big font, and Copy puts it on the clipboard."""
    window = make_window(tk_root, recorder)
    window.show_request("new", "s12-345-678")
    tk_root.update()
    assert window.code_field.get() == "s12-345-678"
    assert str(window.code_field.cget("state")) == "readonly"
    size = tkfont.Font(root=tk_root, font=window.code_field.cget("font")).actual("size")
    body = tkfont.nametofont("TkDefaultFont", root=tk_root).actual("size")
    assert abs(size) >= 2 * abs(body)
    window.copy_button.invoke()
    assert tk_root.clipboard_get() == "s12-345-678"
    assert window.copy_button.cget("text") == "Copied"


@pytest.mark.parametrize(("status", "words", "button"), [
    ("new", "Waiting for a supporter…", "Cancel request"),
    ("pending", "Waiting for a supporter…", "Cancel request"),
    ("in_progress", "A supporter is connected.", "Cancel request"),
    ("closed", "Your request is closed.", "Request help again"),
    ("expired", "Your request has expired.", "Request help again"),
])
def test_each_status_is_put_in_plain_words(tk_root, recorder, status, words, button):
    """The request page says what the status means, and offers what makes sense next."""
    make_window(tk_root, recorder).show_request(status, "s12-345-678")
    tk_root.update()
    texts = visible_texts(tk_root)
    assert words in texts
    assert button in texts
    assert {"Cancel request", "Request help again"} - {button} & set(texts) == set()


def test_the_modules_waiting_message_is_shown_while_waiting(tk_root, recorder):
    """The brand's waiting text replaces the default one."""
    window = make_window(tk_root, recorder, waiting="Our team usually answers within 5 minutes.")
    window.show_request("new", "s12-345-678")
    tk_root.update()
    assert "Our team usually answers within 5 minutes." in visible_texts(tk_root)


def test_offline_says_the_request_is_saved_and_shows_no_code_yet(tk_root, recorder):
    """Before the queue has the request there is no code, and the window says why."""
    window = make_window(tk_root, recorder)
    window.show_request("offline")
    tk_root.update()
    assert "You are offline — your request is saved and will be sent automatically." in visible_texts(tk_root)
    assert window.code_field.get() == "— — —"
    assert "disabled" in window.copy_button.state()


def test_a_new_request_never_shows_the_previous_code(tk_root, recorder):
    """After a closed request, sending the next one shows no code until the queue gives one."""
    window = make_window(tk_root, recorder)
    window.show_request("closed", "s12-345-678")
    window.show_request("sending")
    tk_root.update()
    assert window.code_field.get() == "— — —"
    assert "s12-345-678" not in visible_texts(tk_root)
    assert "Sending your request…" in visible_texts(tk_root)


def test_cancel_asks_first_and_only_confirming_cancels(tk_root, recorder, display):
    """Cancel request opens a question; Escape keeps the request, confirming cancels it."""
    window = make_window(tk_root, recorder)
    window.show_request("new", "s12-345-678")
    window.cancel_button.invoke()
    dialog = pump(tk_root, lambda: _dialog(tk_root), what="the question")
    assert dialog.focus_get() is not None and dialog.focus_get().cget("text") == "Keep waiting"
    dialog.event_generate("<Escape>")
    tk_root.update()
    assert recorder.named("cancel_request") == []
    window.cancel_button.invoke()
    dialog = pump(tk_root, lambda: _dialog(tk_root), what="the question again")
    confirm = next(widget for widget in _buttons(dialog) if widget.cget("text") == "Cancel request")
    confirm.invoke()
    assert recorder.named("cancel_request") == [None]


def _dialog(root) -> tk.Toplevel | None:
    return next((child for child in root.winfo_children() if isinstance(child, tk.Toplevel) and child.winfo_exists()),
                None)


def _buttons(widget) -> list[ttk.Button]:
    found = []
    for child in widget.winfo_children():
        found += [child] if isinstance(child, ttk.Button) else _buttons(child)
    return found


def test_the_brand_sets_title_welcome_and_button_colour(tk_root, recorder):
    """Window title, welcome text and the primary colour come from the module."""
    window = make_window(tk_root, recorder, window_title="Acme Remote Help", welcome="Hello from Acme IT.",
                         primary="#7A1FA2", on_primary="#FFFFFF")
    assert tk_root.title() == "Acme Remote Help"
    assert "Hello from Acme IT." in visible_texts(tk_root)
    style = ttk.Style(tk_root)
    assert style.lookup("Primary.TButton", "background").upper() == "#7A1FA2"
    assert window.submit_button.cget("style") == "Primary.TButton"


BILINGUAL_TEXTS = {"en": {"welcome": "Hello from Acme IT.", "closed": "Thanks, see you."},
                   "de": {"welcome": "Hallo von der Acme-IT.", "privacy": "Wir zeichnen nichts auf."}}


@pytest.mark.parametrize(("language", "shown", "built_in"), [
    ("en", ["Hello from Acme IT.", "Thanks, see you."], "Your supporter sees your screen only after you allow it."),
    ("de", ["Hallo von der Acme-IT.", "Wir zeichnen nichts auf."],
     "Vielen Dank. Wenn Sie wieder Hilfe brauchen, klicken Sie auf „Erneut Hilfe anfordern“."),
])
def test_the_window_shows_the_brands_texts_in_its_own_language_and_built_in_ones_for_the_rest(
        tk_root, recorder, language, shown, built_in):
    i18n.use_language(language)
    window = make_window(tk_root, recorder, texts=BILINGUAL_TEXTS)
    seen = set(visible_texts(tk_root))
    window.show_request("pending", "s12-345-678")
    tk_root.update()
    seen |= set(visible_texts(tk_root))
    window.set_status("closed")
    tk_root.update()
    seen |= set(visible_texts(tk_root))
    assert set(shown) <= seen and built_in in seen
    other = "de" if language == "en" else "en"
    assert not set(BILINGUAL_TEXTS[other].values()) & seen


def test_a_new_brand_shows_in_the_open_window_and_keeps_what_the_customer_typed(tk_root, recorder):
    window = make_window(tk_root, recorder, welcome="Old welcome", primary="#1A7F37")
    description = window.fields["description"].widget
    description.insert("1.0", "The printer is on fire")
    newer = module_config(server_url="http://127.0.0.1:9", module_id="m-window", module_token="t" * 24,
                          product="Acme Care", window_title="Acme Care", welcome="New welcome", primary="#7A1FA2")
    window.apply_brand(newer)
    tk_root.update()
    texts = visible_texts(tk_root)
    assert tk_root.title() == "Acme Care"
    assert "New welcome" in texts and "Old welcome" not in texts
    assert description.get("1.0", "end-1c") == "The printer is on fire"
    assert ttk.Style(tk_root).lookup("Primary.TButton", "background").upper() == "#7A1FA2"
    assert len(window.banner.winfo_children()) == 1, "the old banner is gone"


def test_after_a_new_brand_the_about_box_still_finds_the_logo_by_its_name(tk_root, recorder):
    window = make_window(tk_root, recorder)
    newer = module_config(server_url="http://127.0.0.1:9", module_id="m-window", module_token="t" * 24,
                          product="Acme Care", primary="#7A1FA2")
    window.apply_brand(newer)
    gc.collect()
    assert LOGO_IMAGE in tk_root.tk.call("image", "names")
    assert int(tk_root.tk.call("image", "width", LOGO_IMAGE)) > 0


def test_without_a_banner_picture_the_banner_shows_logo_and_names(tk_root, recorder):
    """A module with only a logo still gets a branded header: product and company on the brand colour."""
    config = module_config(server_url="http://127.0.0.1:9", module_id="m-window", module_token="t" * 24,
                           product="Contoso Care", company="Contoso Ltd")
    assets = {name: data for name, data in config.assets.items() if name != "banner.png"}
    window = HelpWindow(tk_root, dataclasses.replace(config, assets=assets), recorder.actions())
    window.show_form()
    window.bring_forward()
    pump(tk_root, window.is_visible, what="the window to show")
    texts = visible_texts(tk_root)
    assert texts[:2] == ["Contoso Care", "Contoso Ltd"]
    assert len(window._images) == 2  # the window icon and the logo


def test_german_modules_speak_german(tk_root, recorder):
    """With language de every label of the form and the request page is German."""
    i18n.use_language("de")
    window = make_window(tk_root, recorder, language="de", diagnostics=DIAGNOSTICS)
    texts = visible_texts(tk_root)
    for label in ("Ihr Name", "Hilfe anfordern", "Ich habe einen Sitzungscode", "Angaben zu diesem Computer mitsenden",
                  "Was wird gesendet?"):
        assert label in texts
    window.show_request("in_progress", "s12-345-678")
    tk_root.update()
    assert {"Ihr Sitzungscode", "Ein Supporter ist verbunden.", "Anfrage abbrechen", "Kopieren"} <= set(
        visible_texts(tk_root))


def test_screenshots_of_the_window(tk_root, recorder, artifacts_dir, display):
    """Pictures of the form, the session code and the German window, kept as test artifacts."""
    folder = artifacts_dir / "agent"
    window = make_window(tk_root, recorder, diagnostics=DIAGNOSTICS,
                         fields={"name": "optional", "email": "optional", "description": "required"})
    shots = [screenshot(tk_root, folder / "help-window-form.png")]
    window.show_request("new", "s12-345-678")
    window.bring_forward()
    shots.append(screenshot(tk_root, folder / "help-window-code.png"))
    window.set_status("in_progress")
    shots.append(screenshot(tk_root, folder / "help-window-connected.png"))
    for shot in shots:
        assert shot.stat().st_size > 5000  # a picture with content, not an empty frame


def test_screenshots_of_the_german_window(tk_root, recorder, artifacts_dir):
    """Pictures of the German form and session code, kept as test artifacts."""
    i18n.use_language("de")
    folder = artifacts_dir / "agent"
    window = make_window(tk_root, recorder, language="de", diagnostics=DIAGNOSTICS)
    window.submit_button.invoke()  # the required description is missing: its message shows
    shots = [screenshot(tk_root, folder / "help-window-form-de.png")]
    assert "Bitte beschreiben Sie Ihr Problem." in window.snapshot()["texts"]
    window.show_request("pending", "s98-765-432")
    shots.append(screenshot(tk_root, folder / "help-window-code-de.png"))
    assert "Warten auf einen Supporter …" in window.snapshot()["texts"]
    for shot in shots:
        assert shot.stat().st_size > 5000


# --- one window size in every state

LONG_GERMAN_BRAND = {
    "language": "de",
    "product": "Fernwartung und Benutzerunterstützung der Stadtverwaltung",
    "company": "Zweckverband Kommunale Informationsverarbeitung Südwest",
    "welcome": ("Bitte beschreiben Sie Ihr Anliegen möglichst genau, damit unsere Mitarbeiterinnen und Mitarbeiter "
                "der Informationstechnik Ihnen schnell weiterhelfen können. Geben Sie bei Druckerproblemen die "
                "Inventarnummer des Geräts an, bei Fachverfahren den Namen des Verfahrens und die Fehlermeldung "
                "im Wortlaut. Außerhalb der Servicezeiten (Mo–Fr 7–18 Uhr) wenden Sie sich bitte an die "
                "Rufbereitschaft unter der bekannten Telefonnummer. Vielen Dank!"),
    "waiting": ("Ein Mitarbeiter der IT-Abteilung meldet sich in Kürze bei Ihnen. Bitte lassen Sie dieses Fenster "
                "geöffnet und bleiben Sie in der Nähe Ihres Arbeitsplatzes. Die durchschnittliche Wartezeit beträgt "
                "derzeit etwa fünf Minuten. Sie können in der Zwischenzeit normal weiterarbeiten; wir verbinden uns "
                "erst, wenn Sie dem ausdrücklich zustimmen. Vielen Dank für Ihre Geduld!"),
}
ALL_REQUIRED = {"name": "required", "email": "required", "description": "required"}
#: As many topics as a module may offer, as long as a label may be.
TOPICS = tuple(Topic(f"Fachverfahren Nummer {number}: Einwohnermeldewesen und Personenstandswesen"[:60])
               for number in range(1, 9))
# A 1366×768 laptop with a 40 px panel leaves 728 px; title bars take up to about 46 px.
LAPTOP_ROOM = 768 - 40 - 46


def measured(root: tk.Tk) -> tuple[int, int]:
    """The window's size on the X server, as xdotool reports it."""
    root.update()
    report = subprocess.run(["xdotool", "getwindowgeometry", root.wm_frame()], capture_output=True, text=True,
                            env={"DISPLAY": root.winfo_screen(), "PATH": "/usr/bin:/bin"}, check=True, timeout=30)
    width, height = report.stdout.split("Geometry:")[1].split()[0].split("x")
    return int(width), int(height)


def cut_off(root: tk.Misc) -> list[str]:
    """Widgets on screen that stick out of their parent, or texts given less room than they need
    (Tk cuts both off)."""
    found, stack = [], list(root.winfo_children())
    while stack:
        widget = stack.pop()
        if isinstance(widget, tk.Toplevel) or not widget.winfo_ismapped():
            continue
        stack += widget.winfo_children()
        parent = widget.nametowidget(widget.winfo_parent())
        if (widget.winfo_rootx() + widget.winfo_width() > parent.winfo_rootx() + parent.winfo_width()
                or widget.winfo_rooty() + widget.winfo_height() > parent.winfo_rooty() + parent.winfo_height()):
            found.append(f"{widget} ({_widget_text(widget)!r})")
        elif _widget_text(widget) and isinstance(widget, (ttk.Label, ttk.Button, ttk.Checkbutton, tk.Label)) and (
                widget.winfo_width() < widget.winfo_reqwidth() or widget.winfo_height() < widget.winfo_reqheight()):
            found.append(f"{widget} ({_widget_text(widget)!r}) squeezed")
    return found


def overlapping(root: tk.Misc) -> list[str]:
    """Widgets on screen drawn over a sibling (Tk puts two widgets in one grid cell without a word)."""
    found, stack = [], [root]
    while stack:
        parent = stack.pop()
        children = [child for child in parent.winfo_children()
                    if not isinstance(child, tk.Toplevel) and child.winfo_ismapped()]
        stack += children
        children = [child for child in children if not _spacer(child)]
        boxes = [(child, child.winfo_rootx(), child.winfo_rooty(), child.winfo_rootx() + child.winfo_width(),
                  child.winfo_rooty() + child.winfo_height()) for child in children]
        for index, (first, *one) in enumerate(boxes):
            for second, *other in boxes[index + 1:]:
                if min(one[2], other[2]) > max(one[0], other[0]) and min(one[3], other[3]) > max(one[1], other[1]):
                    found.append(f"{first} ({_widget_text(first)!r}) and {second} ({_widget_text(second)!r})")
    return found


def _spacer(widget: tk.Misc) -> bool:
    """An empty frame is room, not something drawn (a field's message may take its place)."""
    return isinstance(widget, ttk.Frame) and not widget.winfo_children()


def _widget_text(widget) -> str:
    try:
        return str(widget.cget("text"))[:40]
    except tk.TclError:
        return ""


def every_state(window: HelpWindow):
    """The window in each state a customer can meet, one after the other; yields the state's name."""
    window.submit_button.invoke()  # every field is required: each shows its message
    yield "form with messages"
    window.diagnostics.show_details(True)
    yield "form with messages and the details that are sent"
    window.code_link.invoke()
    window.join_button.invoke()
    yield "session code"
    window.set_busy(True, "Connecting…")
    yield "joining"
    for status, code in (("sending", ""), ("offline", ""), ("new", "s12-345-678"), ("pending", "s12-345-678")):
        window.show_request(status, code)
        yield status
    window.show_topic(TOPICS[0].label)
    window.show_waiting_room(WaitingRoom("pending", position=12, expected_wait_seconds=1500,
                                         assignee="Alexandra Musterfrau-Beispielname"))
    yield "pending, topic and waiting room"
    window.chat.set_connected(True)
    window.show_chat()
    yield "waiting, connected"
    window.set_status("in_progress")
    yield "in progress, chat"
    for number in range(30):
        window.chat.add_message("expert", "Alex", f"Message {number}: " + "bitte öffnen Sie die Druckereinstellungen " * 3)
    window.set_connection("reconnecting")
    window.show_notice("Cancelling did not work: the support server cannot be reached.")
    yield "in progress, long chat, reconnecting"
    bar = SharingIndicator(window.root, window.config, on_stop=lambda: None)
    bar.show_control("Alex", lambda: None)
    yield "in progress, sharing, supporter in control"
    bar.destroy()
    window.set_status("closed")
    yield "closed"
    window.set_status("expired")
    yield "expired"


@pytest.mark.parametrize("brand", [{}, LONG_GERMAN_BRAND], ids=["default", "long German"])
def test_the_window_keeps_one_size_that_fits_a_laptop_screen_in_every_state(tk_root, recorder, brand):
    """Measured on the X server: the same size in every state, nothing cut off or drawn over something
    else, room for title bar and panel."""
    if brand:
        i18n.use_language("de")
    window = make_window(tk_root, recorder, diagnostics=DIAGNOSTICS, fields=ALL_REQUIRED, topics=TOPICS, **brand)
    sizes = {"form": measured(tk_root)}
    assert cut_off(tk_root) == []
    for state in every_state(window):
        sizes[state] = measured(tk_root)
        assert cut_off(tk_root) == [], state
        assert overlapping(tk_root) == [], state
    assert set(sizes.values()) == {(WINDOW_WIDTH, WINDOW_HEIGHT)}, sizes
    assert WINDOW_HEIGHT <= LAPTOP_ROOM and WINDOW_WIDTH < 1366


def test_a_long_welcome_text_scrolls_instead_of_pushing_the_form_out(tk_root, recorder):
    """A brand's 500-character welcome takes at most three lines and gets a scroll bar."""
    i18n.use_language("de")
    window = make_window(tk_root, recorder, **LONG_GERMAN_BRAND)
    tk_root.update()
    assert int(window.welcome.cget("height")) == WELCOME_LINES
    assert window.welcome.get("1.0", "end-1c") == LONG_GERMAN_BRAND["welcome"]
    assert window.welcome.yview()[1] < 1  # the rest is there to scroll to


def test_the_description_box_takes_the_room_the_form_leaves(tk_root, recorder):
    """With few fields the description box grows; the window stays the same size."""
    window = make_window(tk_root, recorder, fields={"name": "hidden", "email": "hidden", "description": "required"})
    tk_root.update()
    box = window.fields["description"].widget
    assert box.winfo_height() > box.winfo_reqheight()
    assert measured(tk_root) == (WINDOW_WIDTH, WINDOW_HEIGHT)


# --- the session code instead of the form

def test_the_session_code_takes_the_forms_place_and_the_link_goes_back(tk_root, recorder):
    """Joining needs only the code: the form's fields go while it is asked, and come back."""
    window = make_window(tk_root, recorder)
    window.code_link.invoke()
    tk_root.update()
    texts = visible_texts(tk_root)
    assert "The session code your supporter gave you" in texts and "Your name" not in texts
    assert "Back to the request form" in texts
    window.code_link.invoke()
    tk_root.update()
    texts = visible_texts(tk_root)
    assert "Your name" in texts and "The session code your supporter gave you" not in texts


# --- texts right for each state

@pytest.mark.parametrize(("status", "hint"), [
    ("sending", "Your session code appears here once your request has arrived."),
    ("offline", "You will get a session code once your request has been sent."),
    ("pending", "Tell this code to your supporter when they ask for it."),
    ("in_progress", "Tell this code to your supporter when they ask for it."),
    ("closed", "This session code is no longer valid."),
    ("expired", "This session code is no longer valid."),
])
def test_the_line_under_the_code_fits_the_state(tk_root, recorder, status, hint):
    """Only an open request's code is to be told to the supporter."""
    window = make_window(tk_root, recorder)
    window.show_request(status, "s12-345-678" if status not in ("sending", "offline") else "")
    tk_root.update()
    texts = visible_texts(tk_root)
    assert hint in texts
    if status in ("closed", "expired"):
        assert "Tell this code to your supporter when they ask for it." not in texts


@pytest.mark.parametrize(("status", "words"), [
    ("closed", "Thank you. If you need help again, click Request help again."),
    ("expired", "No supporter took it on in time. If you still need help, click Request help again."),
])
def test_a_finished_request_says_it_is_over_and_how_to_get_help_again(tk_root, recorder, status, words):
    window = make_window(tk_root, recorder)
    window.show_request(status, "s12-345-678")
    tk_root.update()
    texts = visible_texts(tk_root)
    assert words in texts and "Request help again" in texts


def test_the_finished_screen_speaks_german(tk_root, recorder):
    i18n.use_language("de")
    window = make_window(tk_root, recorder, language="de")
    window.show_request("closed", "s12-345-678")
    tk_root.update()
    assert "Dieser Sitzungscode gilt nicht mehr." in visible_texts(tk_root)


# --- messages go once the customer edits

def test_a_fields_message_goes_as_soon_as_the_customer_types_in_it(tk_root, recorder, display):
    """Typed corrections take the field's message away at once, before sending again."""
    window = make_window(tk_root, recorder, fields=ALL_REQUIRED)
    window.submit_button.invoke()
    tk_root.update()
    assert "Please enter your email address." in visible_texts(tk_root)
    focus(tk_root, window.fields["email"].widget)
    type_text(display, "a")
    pump(tk_root, lambda: "Please enter your email address." not in visible_texts(tk_root), what="the message to go")
    focus(tk_root, window.fields["description"].widget)
    type_text(display, "b")
    pump(tk_root, lambda: "Please describe your problem." not in visible_texts(tk_root), what="the message to go")
    assert "Please enter your name." in visible_texts(tk_root)  # untouched fields keep theirs


def test_the_session_codes_message_goes_when_the_code_is_edited(tk_root, recorder):
    window = make_window(tk_root, recorder)
    window.code_link.invoke()
    window.code_entry.insert(0, "1234")
    window.join_button.invoke()
    tk_root.update()
    assert "A session code looks like s12-345-678." in visible_texts(tk_root)
    window.code_entry.insert("end", "5")
    tk_root.update()
    assert "A session code looks like s12-345-678." not in visible_texts(tk_root)


# --- a note for the supporter while the request is open

def test_a_typed_note_is_added_with_return_and_the_field_empties(tk_root, recorder, display):
    """Return in the note field reports the line (on one line) and clears it once it is added."""
    window = make_window(tk_root, recorder)
    window.show_request("pending", "s12-345-678")
    tk_root.update()
    focus(tk_root, window.note_entry)
    type_text(display, "The printer is on the second floor")
    keys(display, "Return")
    assert pump(tk_root, lambda: recorder.named("add_note"), what="the note") == ["The printer is on the second floor"]
    assert window.note_entry.get() == ""


def test_a_note_that_could_not_be_added_stays_in_the_field(tk_root, recorder):
    recorder.note_added = False
    window = make_window(tk_root, recorder)
    window.show_request("new", "s12-345-678")
    window.note_entry.insert(0, "Room 4.12")
    window.note_button.invoke()
    assert recorder.named("add_note") == ["Room 4.12"]
    assert window.note_entry.get() == "Room 4.12"


def test_an_empty_note_reports_nothing(tk_root, recorder):
    window = make_window(tk_root, recorder)
    window.show_request("new", "s12-345-678")
    window.note_entry.insert(0, "   ")
    window.note_button.invoke()
    assert recorder.named("add_note") == []


def test_a_note_is_at_most_as_long_as_the_queue_takes(tk_root, recorder):
    """Typing or pasting past MAX_NOTE_CHARS keeps the first MAX_NOTE_CHARS characters."""
    window = make_window(tk_root, recorder)
    window.show_request("new", "s12-345-678")
    window.note_entry.insert(0, "x" * (MAX_NOTE_CHARS + 50))
    window.note_button.invoke()
    assert recorder.named("add_note") == ["x" * MAX_NOTE_CHARS]


@pytest.mark.parametrize(("status", "offered"), [("sending", True), ("offline", True), ("new", True),
                                                  ("in_progress", True), ("closed", False), ("expired", False)])
def test_the_note_field_is_there_while_the_request_is_open(tk_root, recorder, status, offered):
    window = make_window(tk_root, recorder)
    window.show_request(status, "s12-345-678")
    tk_root.update()
    assert bool(window.note_entry.winfo_ismapped()) is offered
    assert ("Add a note" in visible_texts(tk_root)) is offered


def test_without_an_app_that_takes_notes_there_is_no_note_field(tk_root, recorder):
    actions = dataclasses.replace(recorder.actions(), add_note=None)
    config = module_config(server_url="http://127.0.0.1:9", module_id="m-window", module_token="t" * 24)
    window = HelpWindow(tk_root, config, actions)
    window.show_request("new", "s12-345-678")
    window.bring_forward()
    pump(tk_root, window.is_visible, what="the window to show")
    assert not window.note_entry.winfo_ismapped()
    assert "Add a note" not in visible_texts(tk_root)


def test_the_note_button_speaks_german(tk_root, recorder):
    i18n.use_language("de")
    window = make_window(tk_root, recorder, language="de")
    window.show_request("new", "s12-345-678")
    tk_root.update()
    assert "Notiz hinzufügen" in visible_texts(tk_root)


# -- topics ------------------------------------------------------------------------------------

PRINTING = (Topic("Printers", "print"), Topic("Email"), Topic("Something else"))


def test_without_topics_the_form_asks_nothing_about_them(tk_root, recorder):
    window = make_window(tk_root, recorder)
    assert "What is it about?" not in visible_texts(tk_root) and "topic" not in window.fields


def test_the_topic_comes_between_email_and_description_and_is_picked_with_the_keyboard(tk_root, recorder, display):
    """Tab reaches the list after the email address; the arrow keys step through the topics (the first
    Down picks the first), Alt+Down opens the list, and the request carries the topic's label."""
    window = make_window(tk_root, recorder, topics=PRINTING,
                         fields={"name": "hidden", "email": "optional", "description": "required"})
    assert visible_texts(tk_root).index("Your email address") < visible_texts(tk_root).index("What is it about?") \
        < visible_texts(tk_root).index("What do you need help with?")
    focus(tk_root, window.fields["email"].widget)
    keys(display, "Tab")
    topic = window.fields["topic"].widget
    pump(tk_root, lambda: tk_root.focus_get() is topic, what="the topic list to take the focus")
    keys(display, "Down", "Down", "Down", "Up")
    pump(tk_root, lambda: topic.get() == "Email", what="the picked topic")
    keys(display, "alt+Down")
    popdown = topic.tk.eval(f"ttk::combobox::PopdownWindow {topic}")
    pump(tk_root, lambda: topic.tk.eval(f"winfo ismapped {popdown}") == "1", what="the open list")
    keys(display, "Escape")
    pump(tk_root, lambda: topic.tk.eval(f"winfo ismapped {popdown}") == "0", what="the list to close")
    assert topic.get() == "Email"
    focus(tk_root, window.fields["description"].widget)
    type_text(display, "Outlook asks for my password")
    keys(display, "Return")
    sent = pump(tk_root, lambda: recorder.named("request_help"), what="the request")[0]
    assert (sent.topic, sent.description) == ("Email", "Outlook asks for my password")


def test_a_module_with_topics_requires_one_and_says_so_inline(tk_root, recorder, display):
    """Nothing is picked at first; sending without a topic names it under the list and focuses the list,
    and the message goes once a topic is picked."""
    window = make_window(tk_root, recorder, topics=PRINTING, fields={"name": "hidden", "email": "hidden"})
    window.fields["description"].widget.insert("1.0", "The printer jams")
    topic = window.fields["topic"].widget
    assert topic.get() == "" and str(topic.cget("state")) == "readonly"
    window.submit()
    message = "Please choose what your request is about."
    pump(tk_root, lambda: message in visible_texts(tk_root), what="the inline message")
    assert recorder.named("request_help") == [] and tk_root.focus_get() is topic
    topic.set("Printers")
    pump(tk_root, lambda: message not in visible_texts(tk_root), what="the message to go")
    window.submit()
    assert recorder.named("request_help")[0].topic == "Printers"


def test_help_again_starts_without_the_last_topic(tk_root, recorder):
    window = make_window(tk_root, recorder, topics=PRINTING)
    window.fields["topic"].widget.set("Email")
    window.show_request("closed", "s12-345-678")
    window.show_form(clear=True)
    assert window.fields["topic"].widget.get() == ""


def test_the_request_page_says_what_the_request_is_about(tk_root, recorder):
    window = make_window(tk_root, recorder, topics=PRINTING)
    window.show_request("new", "s12-345-678")
    window.show_topic("Printers")
    tk_root.update()
    assert "About: Printers" in visible_texts(tk_root)
    window.show_topic("")
    tk_root.update()
    assert not [text for text in visible_texts(tk_root) if text.startswith("About:")]


# -- the waiting room --------------------------------------------------------------------------

def _waiting_lines(root) -> list[str]:
    texts = visible_texts(root)
    return [text for text in texts if "queue" in text or "wait" in text or "help you" in text
            or "Warteschlange" in text or "Wartezeit" in text or "hilft Ihnen" in text]


def test_the_waiting_room_says_place_wait_and_supporter_and_nothing_it_does_not_know(tk_root, recorder):
    window = make_window(tk_root, recorder)
    window.show_request("new", "s12-345-678")
    tk_root.update()
    assert _waiting_lines(tk_root) == []  # not asked yet: nothing, not a guess
    window.show_waiting_room(WaitingRoom("new", position=3))
    tk_root.update()
    assert "You are number 3 in the queue." in visible_texts(tk_root)
    assert not [text for text in visible_texts(tk_root) if "Expected wait" in text]
    window.show_waiting_room(WaitingRoom("new", position=1, expected_wait_seconds=40))
    tk_root.update()
    assert "You are number 1 in the queue.\nExpected wait: less than a minute." in visible_texts(tk_root)
    window.show_waiting_room(WaitingRoom("pending", assignee="Sam Supporter"))
    tk_root.update()
    assert "Sam Supporter will help you." in visible_texts(tk_root)
    assert not [text for text in visible_texts(tk_root) if "in the queue" in text]
    window.set_status("closed")
    tk_root.update()
    assert not [text for text in visible_texts(tk_root) if "will help you" in text]
    assert window.snapshot()["waiting_room"] is None


@pytest.mark.parametrize(("seconds", "words"), [
    (0, "less than a minute"), (59, "less than a minute"), (60, "about a minute"), (89, "about a minute"),
    (150, "about 2 minutes"), (9 * 60 + 20, "about 9 minutes"), (23 * 60, "about 25 minutes"),
    (97 * 60, "about 100 minutes"),
])
def test_the_expected_wait_is_said_in_round_minutes(tk_root, recorder, seconds, words):
    window = make_window(tk_root, recorder)
    window.show_request("new", "s12-345-678")
    window.show_waiting_room(WaitingRoom("new", position=2, expected_wait_seconds=seconds))
    tk_root.update()
    assert f"You are number 2 in the queue.\nExpected wait: {words}." in visible_texts(tk_root)


def test_the_waiting_room_speaks_german(tk_root, recorder):
    i18n.use_language("de")
    window = make_window(tk_root, recorder, language="de")
    window.show_request("pending", "s12-345-678")
    window.show_topic("Drucker")
    window.show_waiting_room(WaitingRoom("pending", position=4, expected_wait_seconds=600, assignee="Sam"))
    tk_root.update()
    assert ("Sie sind Nummer 4 in der Warteschlange.\nVoraussichtliche Wartezeit: etwa 10 Minuten.\n"
            "Sam hilft Ihnen.") in visible_texts(tk_root)
    assert "Thema: Drucker" in visible_texts(tk_root)


def test_the_snapshot_reports_the_waiting_room_and_topic_for_tests_and_it(tk_root, recorder):
    window = make_window(tk_root, recorder)
    window.show_request("new", "s12-345-678")
    window.show_topic("Printers")
    room = WaitingRoom("new", position=2, expected_wait_seconds=300)
    window.show_waiting_room(room)
    snapshot = window.snapshot()
    assert (snapshot["topic"], snapshot["waiting_room"]) == ("Printers", room.to_json())
