"""The builder's preview is the customer's window: for each state it previews, the Tk window and
the preview show the same texts in the same order, each at the same place and in the same colour.

Both draw from :mod:`sosqueue.window_layout`; this measures the real Tk window on Xvfb against the
boxes the preview reports (:func:`branding.render.window_picture`).
"""

import time
import tkinter as tk
from tkinter import ttk

import pytest

from agent import i18n
from agent.ui import WindowActions
from agent.ui.window import HelpWindow, visible_parts
from branding import Brand
from branding.render import preview_language, render_assets, window_picture
from sosqueue import window_layout as layout
from sosqueue.module_config import Fields, ModuleConfig, Options, Topic
from tests.agent.ui.support import needs_x_tools, pump

pytestmark = needs_x_tools

#: How far (pixels) a part's top in the preview may be from the Tk widget's. Both lay out the same
#: rows with the same font sizes and paddings; what remains is the font engines: Tk measures DejaVu
#: through Xft, the preview through Pillow's FreeType, and a line's ascent or descent could round a
#: pixel apart (measured here: 0 px for all 78 parts). A text wrapped into a different number of lines
#: moves what follows by a whole line (17 px) and fails.
TOLERANCE = 2
#: The same for a part's left edge. Tk's text comes out up to 4 % wider than Pillow's (Xft rounds
#: each glyph's advance to whole pixels), which moves a part beside a label; measured: at most 5 px.
ACROSS_TOLERANCE = 8

LONG_GERMAN = Brand(
    language="de",
    product="Fernwartung und Benutzerunterstützung der Stadtverwaltung",
    company="Zweckverband Kommunale Informationsverarbeitung Südwest",
    welcome=("Bitte beschreiben Sie Ihr Anliegen möglichst genau, damit unsere Mitarbeiterinnen und Mitarbeiter "
             "der Informationstechnik Ihnen schnell weiterhelfen können. Geben Sie bei Druckerproblemen die "
             "Inventarnummer des Geräts an, bei Fachverfahren den Namen des Verfahrens und die Fehlermeldung "
             "im Wortlaut. Außerhalb der Servicezeiten wenden Sie sich bitte an die Rufbereitschaft."),
    waiting=("Ein Mitarbeiter der IT-Abteilung meldet sich in Kürze bei Ihnen. Bitte lassen Sie dieses Fenster "
             "geöffnet. Die durchschnittliche Wartezeit beträgt derzeit etwa fünf Minuten. Sie können in der "
             "Zwischenzeit normal weiterarbeiten."),
    texts={"de": {"closed": "Vielen Dank für Ihre Geduld. Bis zum nächsten Mal!",
                  "privacy": "Wir sehen Ihren Bildschirm erst, wenn Sie es ausdrücklich erlauben."}},
)
BRANDS = {"default": Brand(), "long German": LONG_GERMAN, "short form": Brand(product="Contoso Care", language="en"),
          "topics": Brand(product="Contoso Care", language="de")}
#: The module's options per case: the defaults; every field required; only the description, no diagnostics;
#: every field and topics to pick from.
OPTIONS = {"default": Options(),
           "long German": Options(fields=Fields(name="required", email="required", description="required")),
           "short form": Options(fields=Fields(name="hidden", email="hidden"), diagnostics=False),
           "topics": Options(fields=Fields(name="required", email="optional", description="required"),
                             topics=(Topic("Drucker und Scanner", "print"), Topic("E-Mail"), Topic("Fachverfahren")))}
#: What the agent collects (agent.diagnostics.collect): every key the window has words for.
DIAGNOSTICS = {key: "…" for key in layout.DIAGNOSTIC_LABELS}
#: Tk's pixels per point for this test: the preview's (a Windows screen at 100 %).
SCALING = layout.PREVIEW_SCALING


@pytest.fixture(scope="module")
def rendered():
    """Each brand's assets, rendered once."""
    return {name: render_assets(brand) for name, brand in BRANDS.items()}


def tk_window(root, brand: Brand, assets: dict[str, bytes], state: layout.State,
              options: Options = Options()) -> HelpWindow:
    """The agent's window for ``brand`` in ``state``, on screen."""
    root.tk.call("tk", "scaling", SCALING)
    i18n.use_language(preview_language(brand))
    config = ModuleConfig(module_id="m-preview", module_token="t" * 24, server_url="http://127.0.0.1:9",
                          brand=brand.stamped(), options=options, assets=assets)
    actions = WindowActions(request_help=lambda values: None, join_code=lambda code: None,
                            cancel_request=lambda: None, close=lambda: None, add_note=lambda text: True)
    window = HelpWindow(root, config, actions, diagnostics=DIAGNOSTICS if options.diagnostics else None)
    if state.page == "form":
        window.show_form()
    else:
        window.show_request(state.status, layout.SAMPLE_CODE)
    window.bring_forward()
    pump(root, window.is_visible, what="the window to show")
    root.update()
    return window


def tops(root) -> list[tuple[str, int]]:
    """Each text the Tk window shows with its widget's top, relative to the window."""
    return [(text, widget.winfo_rooty() - root.winfo_rooty()) for text, widget in visible_parts(root)]


def lefts(root) -> list[int]:
    """The left edge of each widget showing a text, relative to the window."""
    return [widget.winfo_rootx() - root.winfo_rootx() for _text, widget in visible_parts(root)]


def ink(widget: tk.Misc) -> str:
    """The colour a Tk widget draws its text in: its own, else its ttk style's."""
    try:
        own = str(widget.cget("foreground"))
    except tk.TclError:  # a ttk widget without the option: its style decides
        own = ""
    style = own or ttk.Style(widget).lookup(str(widget.cget("style")) or widget.winfo_class(), "foreground")
    return str(style).upper()


@pytest.mark.parametrize("brand_name", BRANDS)
@pytest.mark.parametrize("state", layout.PREVIEW_STATES, ids=lambda state: state.name)
def test_the_preview_shows_the_windows_texts_in_order_where_the_window_shows_them(
        tk_root, rendered, brand_name, state):
    """Same texts, same order, each part's top within TOLERANCE pixels of the Tk widget's and its
    left edge within ACROSS_TOLERANCE."""
    brand, options = BRANDS[brand_name], OPTIONS[brand_name]
    tk_window(tk_root, brand, rendered[brand_name], state, options)
    _picture, drawn = window_picture(brand, rendered[brand_name], state, options=options)
    shown = tops(tk_root)
    assert [text for text, _top in shown] == [part.text for part in drawn]
    offsets = {part.key: part.box[1] - top for part, (_text, top) in zip(drawn, shown)}
    assert {key: offset for key, offset in offsets.items() if abs(offset) > TOLERANCE} == {}
    across = {part.key: part.box[0] - left for part, left in zip(drawn, lefts(tk_root))}
    assert {key: offset for key, offset in across.items() if abs(offset) > ACROSS_TOLERANCE} == {}


@pytest.mark.parametrize("brand_name", BRANDS)
@pytest.mark.parametrize("state", layout.PREVIEW_STATES, ids=lambda state: state.name)
def test_the_preview_draws_each_text_in_the_windows_colour(tk_root, rendered, brand_name, state):
    """Each text's colour in the preview is the one its Tk widget draws it in (status colours included)."""
    brand, options = BRANDS[brand_name], OPTIONS[brand_name]
    tk_window(tk_root, brand, rendered[brand_name], state, options)
    _picture, drawn = window_picture(brand, rendered[brand_name], state, options=options)
    assert [(part.key, part.ink.upper()) for part in drawn] == [
        (part.key, ink(widget)) for part, (_text, widget) in zip(drawn, visible_parts(tk_root))]


def test_the_preview_draws_every_state_it_previews():
    """Each previewed state has its own texts: the form asks, the waiting page has the code and Cancel,
    the closed page offers help again."""
    texts = {state.name: [part.text for part in window_picture(Brand(), render_assets(Brand()), state)[1]]
             for state in layout.PREVIEW_STATES}
    assert "Request help" in texts["form"] and layout.SAMPLE_CODE not in texts["form"]
    assert {layout.SAMPLE_CODE, "Cancel request", "Add a note"} <= set(texts["waiting"])
    assert "Request help again" in texts["closed"] and "Cancel request" not in texts["closed"]


def test_a_german_brand_previews_the_windows_german_words():
    """The preview's built-in texts are the window's German catalogue's, not words of its own."""
    state = layout.PREVIEW_STATES[0]
    drawn = [part.text for part in window_picture(Brand(language="de"), render_assets(Brand()), state)[1]]
    german = layout.translation("de").gettext
    assert german("Your name") in drawn and german("I have a session code") in drawn
    assert "Your name" not in drawn


def test_the_preview_takes_the_modules_fields():
    """A hidden field is missing from the preview too, and a required one says no "(optional)"."""
    options = Options(fields=Fields(name="hidden", email="required", description="required"), diagnostics=False)
    drawn = [part.key for part in window_picture(Brand(), render_assets(Brand()), layout.PREVIEW_STATES[0],
                                                 options=options)[1]]
    assert "name_label" not in drawn and "email_optional" not in drawn and "send_details" not in drawn
    assert "email_label" in drawn


def test_the_preview_asks_what_it_is_about_only_for_a_module_with_topics():
    """The topic's label and list are in the form's preview when the module offers topics, and not without."""
    form = layout.PREVIEW_STATES[0]
    with_topics = [part.key for part in window_picture(Brand(), render_assets(Brand()), form,
                                                       options=OPTIONS["topics"])[1]]
    without = [part.key for part in window_picture(Brand(), render_assets(Brand()), form)[1]]
    assert with_topics.index("email_label") < with_topics.index("topic_label") < with_topics.index("description_label")
    assert "topic_label" not in without


def test_the_preview_is_quick_enough_for_a_live_editor(rendered):
    """Three window states and the icons in well under a second (the dashboard redraws on edits)."""
    from branding.render import preview

    started = time.perf_counter()
    preview(Brand(), rendered["default"])
    assert time.perf_counter() - started < 1.0
