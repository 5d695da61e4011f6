"""The window's look: brand colours, shades and the module's images."""

import io
import tkinter as tk
from tkinter import ttk

import pytest
from PIL import Image

from sosqueue.module_config import Brand
from agent.ui import WindowActions, theme
from agent.ui.consent import ConsentDialog
from agent.ui.dialogs import ask_confirm, show_about
from agent.ui.sharing import SharingIndicator
from agent.ui.window import HelpWindow
from tests.agent.ui.support import needs_x_tools
from tests.support.modules import module_config


def test_shade_darkens_and_lightens():
    """Factors below 1 darken towards black, above 1 lighten towards white."""
    assert theme.shade("#808080", 0.5) == "#404040"
    assert theme.shade("#808080", 2.0) == "#FFFFFF"
    assert theme.shade("#0B5FFF", 1.0) == "#0B5FFF"


@pytest.mark.parametrize(("value", "expected"), [
    ("#0b5fff", "#0B5FFF"), ("#ABCDEF", "#ABCDEF"), ("blue", "#111111"), ("#12345", "#111111"),
    ("#GGGGGG", "#111111"), ("", "#111111"),
])
def test_only_hex_colours_are_used(value, expected):
    """Anything but #RRGGBB falls back rather than breaking Tk."""
    assert theme.valid_colour(value, "#111111") == expected


def test_the_palette_comes_from_the_brand():
    """Primary and its hover/press shades, text on primary, accent."""
    palette = theme.Palette.from_brand(Brand(company="A", product="B", primary="#7A1FA2", on_primary="#FFFFFF",
                                             accent="#FF0000"))
    assert (palette.primary, palette.on_primary, palette.accent) == ("#7A1FA2", "#FFFFFF", "#FF0000")
    assert palette.primary_pressed != palette.primary_active != palette.primary


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (200, 20, 20, 255)).save(buffer, "PNG")
    return buffer.getvalue()


@needs_x_tools
def test_images_are_scaled_into_their_box(tk_root):
    """A large banner is shrunk to the window's width, keeping its proportions."""
    image = theme.photo_image(tk_root, _png(1280, 240), max_width=488, max_height=180)
    assert (image.width(), image.height()) == (488, 92)
    small = theme.photo_image(tk_root, _png(64, 64), max_width=488, max_height=180)
    assert (small.width(), small.height()) == (64, 64)


@needs_x_tools
def test_an_unreadable_image_is_left_out(tk_root):
    """A damaged asset means no picture, not a crash."""
    assert theme.photo_image(tk_root, b"not a png", max_width=100, max_height=100) is None


# --- every text/background pair drawn is one the build checks

BUTTON_STATES = ([], ["active"], ["pressed"], ["disabled"], ["focus"])


def _all_widgets(root: tk.Misc) -> list[tk.Misc]:
    found, stack = [], [root]
    while stack:
        widget = stack.pop()
        found.append(widget)
        stack += widget.winfo_children()
    return found


def _ttk_pairs(widget: ttk.Widget, style: ttk.Style) -> set[tuple[str, str]]:
    name = str(widget.cget("style")) or widget.winfo_class()
    field = isinstance(widget, ttk.Entry)
    states = BUTTON_STATES if isinstance(widget, (ttk.Button, ttk.Checkbutton, ttk.Entry)) else ([],)
    pairs = set()
    for state in states:
        foreground = str(_option(widget, "foreground")) or style.lookup(name, "foreground", state)
        background = style.lookup(name, "fieldbackground" if field else "background", state)
        if field and "readonly" in str(widget.cget("state")):
            background = style.lookup(name, "fieldbackground", ["readonly", *state])
        pairs.add((foreground, background))
    return pairs


def _tk_pairs(widget: tk.Widget) -> set[tuple[str, str]]:
    background = str(widget.cget("background"))
    pairs = {(str(widget.cget("foreground")), background)}
    if isinstance(widget, (tk.Button, tk.Menu)):
        pairs.add((str(widget.cget("activeforeground")), str(widget.cget("activebackground"))))
    if isinstance(widget, tk.Text):
        pairs |= {(str(widget.tag_cget(tag, "foreground")), str(widget.tag_cget(tag, "background")) or background)
                  for tag in widget.tag_names() if str(widget.tag_cget(tag, "foreground"))}
    return pairs


def drawn_pairs(root: tk.Misc) -> set[tuple[str, str]]:
    """(text, background) of every widget that shows text, in every state a button can take."""
    style = ttk.Style(root)
    pairs = set()
    for widget in _all_widgets(root):
        if isinstance(widget, ttk.Widget):
            if isinstance(widget, ttk.Entry) or str(_option(widget, "text")):
                pairs |= _ttk_pairs(widget, style)
        elif isinstance(widget, (tk.Label, tk.Button, tk.Text, tk.Menu)) and not str(_option(widget, "image")):
            pairs |= _tk_pairs(widget)
    return {(text.upper(), background.upper()) for text, background in pairs}


def _option(widget: tk.Misc, name: str):
    try:
        return widget.cget(name)
    except tk.TclError:
        return ""


@needs_x_tools
@pytest.mark.parametrize("colours", [{}, {"primary": "#FFCC00", "accent": "#FFEB3B"},
                                     {"primary": "#7A1FA2", "accent": "#00897B"}], ids=["default", "light", "dark"])
def test_every_pair_the_agent_draws_is_in_the_palettes_list(tk_root, colours):
    """The window in its states, the chat, the sharing bar, the About box, the questions and menus draw only
    pairs that sosqueue.palette lists (and the builder checks), so the list cannot drift from the widgets."""
    config = module_config(server_url="http://127.0.0.1:9", module_id="m-pairs", module_token="t" * 24, **colours)
    nothing = WindowActions(request_help=lambda values: None, join_code=lambda code: None,
                            cancel_request=lambda: None, close=lambda: None)
    window = HelpWindow(tk_root, config, nothing, diagnostics={"os": "Linux", "hostname": "pc-1"})
    window.show_form()
    window.submit_button.invoke()
    window.diagnostics.show_details(True)
    seen = drawn_pairs(tk_root)
    for status in ("sending", "new", "in_progress", "closed", "expired", "offline"):
        window.show_request(status, "s12-345-678")
        seen |= drawn_pairs(tk_root)
    window.chat.set_connected(True)
    window.chat.add_message("expert", "Alex", "Hello")
    window.chat.add_message("customer", "You", "Hi")
    window.chat.add_note("Alex joined the session.")
    bar = SharingIndicator(tk_root, config, on_stop=lambda: None)
    bar.show_control("Alex", lambda: None)
    show_about(tk_root, product="Acme Help", company="Acme Corp", server_url="https://help.example.com", notice="New")
    ask_confirm(tk_root, title="Q", message="Really?", confirm="Yes", keep="No", on_answer=lambda yes: None)
    ConsentDialog(tk_root, config, expert="Alex", company="Acme", on_answer=lambda allowed: None)
    tk.Menu(tk_root, tearoff=False)  # the tray's fallback button makes its menu like this
    seen |= drawn_pairs(tk_root)
    listed = {(pair.text, pair.background) for pair in theme.text_pairs(window.palette)}
    assert seen - listed == set()
    bar.destroy()


def test_the_status_colours_are_listed_on_white():
    """The status line's colours are among the checked pairs."""
    listed = {(pair.text, pair.background) for pair in theme.text_pairs(theme.Palette.from_brand(Brand(company="A", product="B")))}
    assert {(colour, theme.WHITE) for colour in theme.STATUS_COLOURS.values()} <= listed
