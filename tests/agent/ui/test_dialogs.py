"""The small windows: error dialog, the cancel question and the diagnostics consent."""

import os
import subprocess
import sys
from tkinter import ttk

import pytest

from agent.errors import NoDisplay
from agent.ui import theme
from agent import i18n
from agent.ui.dialogs import LOGO_IMAGE, DiagnosticsPreview, ask_confirm, show_about, show_error
from tests.agent.ui.support import REPO, needs_x_tools, pump
from tests.support.polling import eventually

pytestmark = needs_x_tools


@pytest.fixture
def styled_root(tk_root):
    palette = theme.Palette.from_brand(type("Brand", (), {"primary": "#0B5FFF", "on_primary": "#FFFFFF",
                                                          "accent": "#E5262A"})())
    theme.apply_style(tk_root, palette, theme.make_fonts(tk_root))
    return tk_root


def _ask(root, answers):
    return ask_confirm(root, title="Cancel request", message="Really?", confirm="Cancel request",
                       keep="Keep waiting", on_answer=answers.append)


def _button(dialog, text) -> ttk.Button:
    stack = list(dialog.winfo_children())
    while stack:
        widget = stack.pop()
        if isinstance(widget, ttk.Button) and widget.cget("text") == text:
            return widget
        stack += widget.winfo_children()
    raise LookupError(text)


def test_the_question_has_the_safe_answer_focused(styled_root):
    """Return right away keeps the request: the focus is on 'Keep waiting'."""
    answers = []
    dialog = _ask(styled_root, answers)
    pump(styled_root, lambda: dialog.focus_get() is not None, what="the dialog's focus")
    assert dialog.focus_get().cget("text") == "Keep waiting"
    dialog.focus_get().event_generate("<Return>")
    styled_root.update()
    assert answers == [False]
    assert not dialog.winfo_exists()


def test_confirming_answers_yes_once(styled_root):
    """The confirm button answers True, and a second click cannot answer again."""
    answers = []
    dialog = _ask(styled_root, answers)
    button = _button(dialog, "Cancel request")
    button.invoke()
    assert answers == [True]
    assert not dialog.winfo_exists()


def test_closing_the_question_window_keeps_the_request(styled_root):
    """The window manager's close button counts as 'no'."""
    answers = []
    dialog = _ask(styled_root, answers)
    dialog.tk.call(dialog.protocol("WM_DELETE_WINDOW"))
    assert answers == [False]


def test_diagnostics_preview_sends_everything_or_nothing(styled_root):
    """Ticked: exactly the collected values; unticked: None."""
    values = {"os": "Linux 6.1", "hostname": "pc-42"}
    preview = DiagnosticsPreview(styled_root, values)
    assert preview.chosen == values
    preview.check.invoke()
    assert preview.chosen is None
    preview.check.invoke()
    assert preview.chosen == values


def test_show_error_without_a_display_raises_no_display(monkeypatch):
    """No DISPLAY: the plain NoDisplay error, which suggests --sos --no-gui."""
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(NoDisplay) as raised:
        show_error("The support server cannot be reached.")
    assert "--sos --no-gui" in str(raised.value)


def test_show_error_opens_a_dialog_that_return_closes(display, tmp_path):
    """The error dialog appears with the message and goes away with Return."""
    env = {**os.environ, "DISPLAY": display}
    process = subprocess.Popen(
        [sys.executable, "-c", "from agent.ui.dialogs import show_error; show_error('The module is damaged.')"],
        cwd=REPO, env=env,
    )
    try:
        def dialog_window():
            found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^Support$"], env=env,
                                   capture_output=True, text=True)
            return found.stdout.split()

        window = eventually(dialog_window, timeout=60, what="the error dialog")[0]
        shot = tmp_path / "error.png"
        subprocess.run(["import", "-window", window, str(shot)], env=env, check=True, timeout=60)
        assert shot.stat().st_size > 1000
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, check=True, timeout=60)
        subprocess.run(["xdotool", "key", "Return"], env=env, check=True, timeout=60)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_withdrawn_parent_still_gets_a_centred_question(styled_root):
    """From the tray the window may be hidden; the question still shows on screen."""
    answers = []
    dialog = _ask(styled_root, answers)
    pump(styled_root, lambda: dialog.winfo_viewable(), what="the question to show")
    assert 0 <= dialog.winfo_rootx() < dialog.winfo_screenwidth()
    assert dialog.winfo_ismapped()
    dialog.event_generate("<Escape>")
    styled_root.update()
    assert answers == [False]


def _texts(widget) -> list[str]:
    found = []
    for child in widget.winfo_children():
        try:
            text = str(child.cget("text"))
        except Exception:
            text = ""
        found += ([text] if text else []) + _texts(child)
    return found


def _images(widget) -> list[str]:
    found = []
    for child in widget.winfo_children():
        if isinstance(child, ttk.Label) and str(child.cget("image")):
            found += [str(name) for name in child.tk.splitlist(child.cget("image"))]
        found += _images(child)
    return found


@pytest.fixture
def help_window(tk_root):
    """The help window on the root: it gives the About box the module's logo and the brand's styles."""
    from agent.ui import WindowActions
    from agent.ui.window import HelpWindow
    from tests.support.modules import module_config

    config = module_config(server_url="https://help.example.com", module_id="m-about", module_token="t" * 24,
                           product="Acme Help", company="Acme Corp")
    nothing = WindowActions(request_help=lambda values: None, join_code=lambda code: None,
                            cancel_request=lambda: None, close=lambda: None)
    return HelpWindow(tk_root, config, nothing)


def test_the_about_box_shows_logo_product_company_version_and_server(tk_root, help_window, artifacts_dir):
    """A branded box, not a stock message box: the module's logo on the brand colour and what it is."""
    from agent import __version__

    dialog = show_about(tk_root, product="Acme Help", company="Acme Corp", server_url="https://help.example.com")
    pump(tk_root, dialog.winfo_viewable, what="the About box")
    assert dialog.title() == "About Acme Help"
    assert _images(dialog) == [LOGO_IMAGE]
    texts = _texts(dialog)
    for text in ("Acme Help", "Acme Corp", "Provided by Acme Corp", f"Support module version {__version__}",
                 "Support server: https://help.example.com", "Close"):
        assert text in texts
    path = artifacts_dir / "agent" / "about.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["import", "-window", str(dialog.winfo_id()), str(path)],
                   env={"DISPLAY": tk_root.winfo_screen(), "PATH": "/usr/bin:/bin"}, check=True, timeout=30)
    assert path.stat().st_size > 1000


def test_the_about_box_shows_the_update_notice_and_return_closes_it(tk_root, help_window):
    dialog = show_about(tk_root, product="Acme Help", company="Acme Corp", server_url="https://help.example.com",
                        notice="A newer version of this support module (2.0) is available. Your IT department installs it.")
    pump(tk_root, dialog.winfo_viewable, what="the About box")
    assert "A newer version of this support module (2.0) is available. Your IT department installs it." in _texts(dialog)
    dialog.event_generate("<Return>")
    tk_root.update()
    assert not dialog.winfo_exists()


def test_opening_about_again_keeps_one_box(tk_root, help_window):
    first = show_about(tk_root, product="Acme Help", company="Acme Corp", server_url="https://help.example.com")
    second = show_about(tk_root, product="Acme Help", company="Acme Corp", server_url="https://help.example.com",
                        notice="New")
    tk_root.update()
    boxes = [child for child in tk_root.winfo_children()
             if child.winfo_class() == "Toplevel" and child.title().startswith("About")]
    assert boxes == [second] and second is not first and "New" in _texts(second)


def test_the_about_box_speaks_german(tk_root, help_window):
    i18n.use_language("de")
    dialog = show_about(tk_root, product="Acme Help", company="Acme Corp", server_url="https://help.example.com")
    assert "Schließen" in _texts(dialog)
