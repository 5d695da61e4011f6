"""The consent question on a real X display: branded, plainly worded, Deny unless the customer allows."""

import subprocess

import pytest

from agent import i18n
from agent.ui import theme
from agent.text import MAX_NAME
from agent.ui.consent import USE_MOUSE_AND_KEYBOARD, ConsentDialog, consent_question
from tests.agent.ui.support import needs_x_tools, pump
from tests.support.modules import module_config

pytestmark = needs_x_tools


class Answers(list):
    def __call__(self, allowed: bool) -> None:
        self.append(allowed)


@pytest.fixture
def config():
    return module_config(server_url="http://127.0.0.1:9", module_id="m-consent", module_token="t" * 24,
                         product="Acme Help", company="Acme Corp", primary="#7A1FA2", on_primary="#FFFFFF")


def ask(root, config, answers: Answers, *, expert="Alex", company="Acme IT", **options) -> ConsentDialog:
    fonts = theme.make_fonts(root)
    theme.apply_style(root, theme.Palette.from_brand(config.brand), fonts)
    dialog = ConsentDialog(root, config, expert=expert, company=company, on_answer=answers, **options)
    dialog.fonts_of_style = fonts  # Tk forgets fonts nobody references
    pump(root, lambda: dialog.window.winfo_viewable(), what="the question on screen")
    return dialog


def press(display: str, *keys: str) -> None:
    subprocess.run(["xdotool", "key", "--delay", "30", *keys], env={"DISPLAY": display, "PATH": "/usr/bin:/bin"},
                   check=True, timeout=30)


def test_the_question_names_the_expert_and_the_company(tk_root, config):
    """'Alex from Acme IT wants to see your screen', with Deny and Allow, in the brand's colours."""
    dialog = ask(tk_root, config, Answers())
    assert dialog.question_label.cget("text") == "Alex from Acme IT wants to see your screen"
    assert dialog.window.title() == "Share your screen?"
    assert (dialog.deny_button.cget("text"), dialog.allow_button.cget("text")) == ("Deny", "Allow")
    assert dialog.allow_button.cget("style") == "Primary.TButton"
    banner = dialog.window.winfo_children()[0]
    assert banner.cget("background").upper() == "#7A1FA2"
    assert len(dialog._images) == 1  # the module's logo
    assert "Acme Help" in [child.cget("text") for child in banner.winfo_children() if child.cget("image") == ""]


def test_deny_has_the_focus_and_escape_denies(tk_root, config, display):
    """Escape answers Deny, once; the window goes away."""
    answers = Answers()
    dialog = ask(tk_root, config, answers)
    pump(tk_root, lambda: dialog.window.focus_get() is dialog.deny_button, what="the focus on Deny")
    press(display, "Escape")
    pump(tk_root, lambda: answers, what="the answer")
    assert answers == [False]
    assert not dialog.open


def test_return_on_the_focused_deny_denies(tk_root, config, display):
    """Return without looking: the safe answer."""
    answers = Answers()
    dialog = ask(tk_root, config, answers)
    pump(tk_root, lambda: dialog.window.focus_get() is dialog.deny_button, what="the focus on Deny")
    press(display, "Return")
    pump(tk_root, lambda: answers, what="the answer")
    assert answers == [False]


def test_closing_the_window_denies(tk_root, config):
    """The window manager's close button (WM_DELETE_WINDOW) is a Deny."""
    answers = Answers()
    dialog = ask(tk_root, config, answers)
    tk_root.tk.call(dialog.window.protocol("WM_DELETE_WINDOW"))
    assert answers == [False]


def test_a_click_where_the_dialog_reports_allow_allows_once(tk_root, config, display):
    """A real click at the reported Allow position reports True, and nothing more after the window closed."""
    answers = Answers()
    dialog = ask(tk_root, config, answers)
    centres = pump(tk_root, dialog.button_centres, what="the buttons laid out")
    button = dialog.allow_button
    assert centres["allow"] == [button.winfo_rootx() + button.winfo_width() // 2,
                                button.winfo_rooty() + button.winfo_height() // 2]
    subprocess.run(["xdotool", "mousemove", *map(str, centres["allow"]), "click", "1"],
                   env={"DISPLAY": display, "PATH": "/usr/bin:/bin"}, check=True, timeout=30)
    pump(tk_root, lambda: answers, what="the answer")
    dialog.answer(False)
    assert answers == [True]
    assert dialog.button_centres() is None


def test_dismiss_closes_without_an_answer(tk_root, config):
    """The expert went away before the customer answered: no answer is reported."""
    answers = Answers()
    dialog = ask(tk_root, config, answers)
    dialog.dismiss()
    tk_root.update()
    assert answers == []
    assert not dialog.window.winfo_exists()


@pytest.mark.parametrize(("expert", "company", "question"), [
    ("", "Acme IT", "Your supporter from Acme IT wants to see your screen"),
    ("Al\nex\t", "Acme\x00 IT", "Al ex from Acme IT wants to see your screen"),
    ("A" * 200, "Acme IT", "A" * (MAX_NAME - 1) + "… from Acme IT wants to see your screen"),
])
def test_names_from_the_server_are_one_short_line(expert, company, question):
    """Empty, multi-line or overlong names cannot distort the question."""
    assert consent_question(expert, company) == question


def test_without_a_company_name_the_modules_company_is_named(tk_root, config):
    """The relay sends the company; if it does not, the module's brand names it."""
    dialog = ask(tk_root, config, Answers(), company="")
    assert dialog.question == "Alex from Acme Corp wants to see your screen"


def test_the_question_speaks_german(tk_root, config, artifacts_dir):
    """With language de: the question and both buttons are German."""
    i18n.use_language("de")
    dialog = ask(tk_root, config, Answers())
    assert dialog.question == "Alex von Acme IT möchte Ihren Bildschirm sehen"
    assert (dialog.deny_button.cget("text"), dialog.allow_button.cget("text")) == ("Ablehnen", "Erlauben")
    path = artifacts_dir / "agent" / "consent-de.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["import", "-window", str(dialog.window.winfo_id()), str(path)],
                   env={"DISPLAY": tk_root.winfo_screen(), "PATH": "/usr/bin:/bin"}, check=True, timeout=30)
    assert path.stat().st_size > 5000


def test_the_control_question_asks_for_the_mouse_and_keyboard_and_names_the_take_back_key(tk_root, config):
    dialog = ask(tk_root, config, Answers(), asks=USE_MOUSE_AND_KEYBOARD)
    assert dialog.question_label.cget("text") == "Alex from Acme IT wants to use your mouse and keyboard"
    assert dialog.window.title() == "Allow remote control?"
    assert "Ctrl+Alt+Space" in dialog.explanation_label.cget("text")
    assert (dialog.deny_button.cget("text"), dialog.allow_button.cget("text")) == ("Deny", "Allow")


def test_the_control_question_has_deny_focused_and_never_answers_by_itself(tk_root, config, display):
    """No timer is set that could answer it; only the customer does (Escape: Deny)."""
    answers = Answers()
    dialog = ask(tk_root, config, answers, asks=USE_MOUSE_AND_KEYBOARD)
    pump(tk_root, lambda: dialog.window.focus_get() is dialog.deny_button, what="the focus on Deny")
    assert tk_root.tk.call("after", "info") == ""
    assert answers == [] and dialog.open
    press(display, "Escape")
    pump(tk_root, lambda: answers, what="the answer")
    assert answers == [False]


def test_the_control_question_speaks_german(tk_root, config):
    i18n.use_language("de")
    dialog = ask(tk_root, config, Answers(), asks=USE_MOUSE_AND_KEYBOARD)
    assert dialog.question == "Alex von Acme IT möchte Ihre Maus und Tastatur verwenden"
    assert dialog.window.title() == "Fernsteuerung erlauben?"
