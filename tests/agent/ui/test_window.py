"""The help window on a real X display: the form, the session code, the status, the keyboard."""

import dataclasses
import subprocess
import tkinter as tk
import tkinter.font as tkfont
from pathlib import Path
from tkinter import ttk

import pytest

from agent import i18n
from agent.ui import FormValues, WindowActions, normalise_code
from agent.ui.window import HelpWindow, visible_texts
from tests.agent.ui.support import needs_x_tools, pump
from tests.support.modules import module_config

pytestmark = needs_x_tools

DIAGNOSTICS = {"os": "Linux 6.1", "hostname": "frontdesk-7", "agent_version": "0.1.0", "locale": "de_DE"}


class Recorder:
    """Keeps what the window reported, in order."""

    def __init__(self):
        self.calls: list[tuple[str, object]] = []

    def actions(self) -> WindowActions:
        return WindowActions(
            request_help=lambda values: self.calls.append(("request_help", values)),
            join_code=lambda code: self.calls.append(("join_code", code)),
            cancel_request=lambda: self.calls.append(("cancel_request", None)),
            close=lambda: self.calls.append(("close", None)),
        )

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
