"""The help window's look: the brand's colours on a calm white page, fonts and images.

The colours and every text/background pair drawn with them come from :mod:`sosqueue.palette`,
where the builder checks their contrast too; a widget takes its colours from there, never its own.
"""

import base64
import io
import logging
import sys
import tkinter as tk
import tkinter.font as tkfont
from dataclasses import dataclass
from tkinter import ttk

from sosqueue.palette import (BORDER, DISABLED, ERROR, MUTED, SURFACE, TEXT, WHITE, Palette, TextPair, shade,
                              text_pairs, valid_colour)
from sosqueue.window_layout import FONTS, LOOKS, STATUS_COLOURS, Role

log = logging.getLogger("sosqueue.agent")

__all__ = ["BORDER", "DISABLED", "ERROR", "MUTED", "STATUS_COLOURS", "SURFACE", "TEXT", "WHITE", "Fonts", "Palette",
           "TextPair", "apply_style", "make_fonts", "named_copy", "photo_image", "shade", "text_pairs", "valid_colour"]


@dataclass(frozen=True)
class Fonts:
    body: tkfont.Font
    small: tkfont.Font
    strong: tkfont.Font
    heading: tkfont.Font
    title: tkfont.Font
    code: tkfont.Font
    link: tkfont.Font


def make_fonts(root: tk.Misc) -> Fonts:
    family = _ui_family(root)
    mono = _first_available(root, ("Consolas", "Menlo", "DejaVu Sans Mono", "Liberation Mono", "Courier New"), "TkFixedFont")

    def font(name: str) -> tkfont.Font:
        spec = FONTS[name]
        return tkfont.Font(root=root, family=mono if spec.mono else family, size=spec.size,
                           weight="bold" if spec.bold else "normal", underline=spec.underline)

    return Fonts(**{name: font(name) for name in ("body", "small", "strong", "heading", "title", "code", "link")})


def _ui_family(root: tk.Misc) -> str:
    if sys.platform == "win32":
        return _first_available(root, ("Segoe UI",), "TkDefaultFont")
    return tkfont.nametofont("TkDefaultFont", root=root).actual("family")


def _first_available(root: tk.Misc, families: tuple[str, ...], fallback: str) -> str:
    available = set(tkfont.families(root))
    for family in families:
        if family in available:
            return family
    return tkfont.nametofont(fallback, root=root).actual("family")


def apply_style(root: tk.Misc, palette: Palette, fonts: Fonts) -> ttk.Style:
    """Configure the ttk styles the window uses (``Primary.TButton``, ``Link.TButton`` …)."""
    style = ttk.Style(root)
    if "clam" in style.theme_names():
        style.theme_use("clam")  # the one built-in theme that lets buttons take the brand colour
    root.configure(background=WHITE)
    _style_tk_widgets(root, palette)
    style.configure(".", background=WHITE, foreground=TEXT, font=fonts.body, bordercolor=BORDER,
                    focuscolor=palette.primary, selectbackground=palette.primary, selectforeground=palette.on_primary)
    style.map(".", foreground=[("disabled", MUTED)])
    style.configure("TFrame", background=WHITE)
    style.configure("Surface.TFrame", background=SURFACE)
    style.configure("Banner.TFrame", background=palette.primary)
    style.configure("TLabel", background=WHITE, foreground=TEXT)
    style.configure("Banner.TLabel", background=palette.primary, foreground=palette.on_primary, font=fonts.title)
    style.configure("BannerSmall.TLabel", background=palette.primary, foreground=palette.on_primary, font=fonts.body)
    style.configure("Heading.TLabel", font=fonts.heading)
    style.configure("Field.TLabel", font=fonts.strong)
    style.configure("Muted.TLabel", foreground=MUTED, font=fonts.small)
    style.configure("Error.TLabel", foreground=ERROR, font=fonts.small)
    style.configure("Notice.TLabel", foreground=TEXT, font=fonts.strong)
    style.configure("Surface.TLabel", background=SURFACE, foreground=MUTED, font=fonts.small)
    style.configure("Status.TLabel", font=fonts.heading)
    style.configure("TEntry", fieldbackground=WHITE, bordercolor=BORDER, lightcolor=WHITE, darkcolor=WHITE,
                    padding=LOOKS[Role.ENTRY].padding[0])
    style.map("TEntry", bordercolor=[("focus", palette.primary)], lightcolor=[("focus", palette.primary)])
    # The topic list looks like an entry: the same frame and padding, white also while read-only.
    style.configure("TCombobox", fieldbackground=WHITE, background=WHITE, bordercolor=BORDER, lightcolor=WHITE,
                    darkcolor=WHITE, padding=LOOKS[Role.ENTRY].padding[0])
    style.map("TCombobox", fieldbackground=[("readonly", WHITE)], background=[("readonly", WHITE)],
              bordercolor=[("focus", palette.primary)], lightcolor=[("focus", palette.primary)],
              selectbackground=[("focus", palette.primary)], selectforeground=[("focus", palette.on_primary)])
    style.configure("Code.TEntry", fieldbackground=SURFACE, bordercolor=SURFACE, lightcolor=SURFACE, darkcolor=SURFACE,
                    foreground=TEXT, padding=LOOKS[Role.CODE].padding[0])
    style.map("Code.TEntry", fieldbackground=[("readonly", SURFACE)], bordercolor=[("focus", palette.primary)],
              lightcolor=[("focus", SURFACE)])
    style.configure("Primary.TButton", background=palette.primary, foreground=palette.on_primary, font=fonts.heading,
                    bordercolor=palette.primary, lightcolor=palette.primary, darkcolor=palette.primary,
                    focuscolor=palette.on_primary, padding=LOOKS[Role.PRIMARY_BUTTON].padding,
                    width=-LOOKS[Role.PRIMARY_BUTTON].min_chars)
    style.map("Primary.TButton",
              background=[("disabled", DISABLED), ("pressed", palette.primary_pressed), ("active", palette.primary_active)],
              foreground=[("disabled", MUTED)],
              bordercolor=[("focus", palette.primary_pressed)],
              lightcolor=[("pressed", palette.primary_pressed), ("active", palette.primary_active)],
              darkcolor=[("pressed", palette.primary_pressed), ("active", palette.primary_active)])
    style.configure("TButton", background=WHITE, foreground=TEXT, bordercolor=BORDER, lightcolor=WHITE,
                    darkcolor=WHITE, padding=LOOKS[Role.BUTTON].padding, width=-LOOKS[Role.BUTTON].min_chars)
    style.map("TButton", background=[("pressed", SURFACE), ("active", SURFACE)],
              bordercolor=[("focus", palette.primary)])
    style.configure("Small.TButton", padding=LOOKS[Role.SMALL_BUTTON].padding,
                    width=-LOOKS[Role.SMALL_BUTTON].min_chars)
    style.configure("Link.TButton", background=WHITE, foreground=palette.link, font=fonts.link, borderwidth=0,
                    bordercolor=WHITE, lightcolor=WHITE, darkcolor=WHITE, padding=LOOKS[Role.LINK].padding,
                    width=-LOOKS[Role.LINK].min_chars,
                    focuscolor=palette.primary)
    style.map("Link.TButton", background=[("active", WHITE), ("pressed", WHITE)],
              foreground=[("active", palette.link_active)])
    style.configure("TCheckbutton", background=WHITE, foreground=TEXT, indicatorbackground=WHITE,
                    indicatorforeground=palette.primary, focuscolor=palette.primary)
    style.map("TCheckbutton", background=[("active", WHITE)], indicatorbackground=[("pressed", SURFACE)])
    return style


def _style_tk_widgets(root: tk.Misc, palette: Palette) -> None:
    """Classic Tk widgets made after this take the window's colours: menus (the tray's fallback
    button has one) and selected text."""
    for option, value in (("Menu.background", WHITE), ("Menu.foreground", TEXT),
                          ("Menu.activeBackground", palette.primary), ("Menu.activeForeground", palette.on_primary),
                          ("Menu.disabledForeground", MUTED), ("Menu.relief", "flat"), ("Menu.activeBorderWidth", 0),
                          ("Text.selectBackground", palette.primary), ("Text.selectForeground", palette.on_primary),
                          ("Text.inactiveSelectBackground", palette.primary)):
        root.option_add(f"*{option}", value)


def photo_image(root: tk.Misc, data: bytes, *, max_width: int, max_height: int) -> tk.PhotoImage | None:
    """A PNG from the module as a Tk image no larger than the box; ``None`` if it cannot be read."""
    try:
        image = tk.PhotoImage(master=root, data=data)  # Tk decodes PNG itself, and fast
    except tk.TclError as error:
        log.warning("cannot show an image of the module: %s", error)
        return None
    if image.width() <= max_width and image.height() <= max_height:
        return image
    return _scaled(root, data, max_width, max_height) or _subsampled(image, max_width, max_height)


def named_copy(root: tk.Misc, image: tk.PhotoImage, name: str) -> tk.PhotoImage:
    """``image`` under a Tk name, so that other windows of the same Tk can show it by that name."""
    copy = tk.PhotoImage(master=root, name=name)
    copy.tk.call(copy.name, "copy", image.name)
    return copy


def _scaled(root: tk.Misc, data: bytes, max_width: int, max_height: int) -> tk.PhotoImage | None:
    """Smooth scaling with Pillow (it is there for the tray icon anyway)."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as source:
            picture = source.convert("RGBA")
        picture.thumbnail((max_width, max_height), Image.LANCZOS)
        buffer = io.BytesIO()
        picture.save(buffer, "PNG")
        return tk.PhotoImage(master=root, data=base64.b64encode(buffer.getvalue()).decode("ascii"))
    except Exception as error:
        log.info("cannot scale an image smoothly: %s", error)
        return None


def _subsampled(image: tk.PhotoImage, max_width: int, max_height: int) -> tk.PhotoImage:
    factor = max(-(-image.width() // max_width), -(-image.height() // max_height))
    return image.subsample(factor)
