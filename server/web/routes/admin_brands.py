"""Admin page for a module's brand: logo, names, colours, texts per language, the form's fields, topics, options.

The server keeps the brand (``server.brands``), checked by the builder's own rules
(``branding.model.Brand``): a refused setting shows beside its input in the rule's own words, and
nothing is saved. Topics are :data:`module_config.MAX_TOPICS` rows of a label and a group (the
company's groups, or the module's own); empty rows are left out, and a topic whose group the company
does not have is refused beside that group (``server.brands.checked_options``). The live preview and the contrast table come from the server
(``…/brand/preview``), so the page has one renderer and one contrast computation with the builder.
"""

import base64
import io
from dataclasses import asdict, dataclass, fields

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from PIL import Image
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from branding import colors
from branding.model import BRAND_TEXT_LIMITS, Brand, BrandError, decode_logo
from branding.render import preview, render_assets
from server import brands
from server.api.deps import StateDep
from server.logins import Login
from server.models import Module
from server.web.deps import AdminLoginDep, FormDep, TranslateDep
from server.web.forms import text_field
from server.web.i18n import LANGUAGES as LANGUAGE_NAMES
from server.web.routes.admin_modules import company_module
from server.web.routes.admin_users import AdminForm, Message
from server.web.routes.queue import group_names
from server.web.templating import render
from sosqueue import module_config, palette
from sosqueue.i18n import N_
from sosqueue.module_config import BRAND_TEXTS, FIELD_MODES, MAX_TOPIC_CHARS, MAX_TOPICS, TEXT_LANGUAGES

PREVIEW = "/preview"


def page_path(module_id: str) -> str:
    return f"/admin/modules/{module_id}/brand"


router = APIRouter(prefix=page_path("{module_id}"))

#: The editor's form and its preview carry a logo upload beside the other fields (``server.limits``).
EDITOR_PATHS = (page_path("[^/]+"), page_path("[^/]+") + PREVIEW)
FIELDS_ROOM = 256 * 1024
LARGER_BODIES = tuple((path, brands.MAX_UPLOAD_BYTES + FIELDS_ROOM) for path in EDITOR_PATHS)

#: The brand's settings that are one input each: names, colours, language, texts for every language.
PLAIN_SETTINGS = tuple(name for name in Brand.setting_names() if name not in ("texts", "force_contrast"))
#: The texts a brand may also give for every language (settings of their own beside ``texts``).
EVERY_LANGUAGE_TEXTS = tuple(kind for kind in BRAND_TEXTS if kind in PLAIN_SETTINGS)
COLOUR_SETTINGS = ("primary", "accent", "on_primary")
OPTION_FLAGS = tuple(item.name for item in fields(module_config.Options) if item.name not in ("fields", "topics"))
FORM_FIELDS = tuple(item.name for item in fields(module_config.Fields))
#: Where a refusal that belongs to no single input shows: above the form.
WHOLE_BRAND = "brand"
REFUSED = N_("This cannot be saved: {rule}")

TEXT_LABELS = {
    "welcome": N_("Welcome, above the request form"),
    "waiting": N_("While the customer waits"),
    "closed": N_("Once the request is done"),
    "privacy": N_("Privacy note while a request is open"),
}
OPTION_LABELS = {
    "sos_shortcut": N_("Put the SOS button on the customer's desktop"),
    "start_menu": N_("Add the module to the start menu"),
    "autostart": N_("Start in the tray when the customer logs in"),
    "file_immediately": N_("SOS files the request at once; the description can follow"),
    "diagnostics": N_("Send basic facts about the computer with a request"),
}
FIELD_LABELS = {"name": N_("Name"), "email": N_("Email"), "description": N_("Description")}
MODE_LABELS = {"required": N_("Required"), "optional": N_("Optional"), "hidden": N_("Hidden")}
MODULE_GROUP = N_("The module's group")
GONE_GROUP = N_("{name} (no longer exists)")
NO_LABEL = N_("Give the topic a label, or set its group back to the module's group to leave the row empty.")
AUTO_LANGUAGE = N_("The customer's system language")
EVERY_LANGUAGE = N_("Every language")


def text_input(language: str, kind: str) -> str:
    """The input of one text in one language, named like the rule that checks it (``texts.de.welcome``)."""
    return f"texts.{language}.{kind}"


def option_input(name: str) -> str:
    return f"options.{name}"


def field_input(name: str) -> str:
    """The choice of how the request form shows one of its fields."""
    return f"fields.{name}"


def topic_input(row: int, part: str) -> str:
    """The label or group input of the topic in ``row`` (from 0), named like the API's refusals (``topics.0.group``)."""
    return f"topics.{row}.{part}"


TEXT_INPUTS = tuple(text_input(language, kind) for language in TEXT_LANGUAGES for kind in BRAND_TEXTS)
TOPIC_INPUTS = tuple(topic_input(row, part) for row in range(MAX_TOPICS) for part in ("label", "group"))
BRAND_INPUTS = frozenset((*PLAIN_SETTINGS, *TEXT_INPUTS, *TOPIC_INPUTS, "topics", "logo"))


# -- the form's values ---------------------------------------------------------------------


def posted_brand(check: AdminForm) -> tuple[dict, dict]:
    """The brand's settings (as ``Brand.settings()`` has them) and options, as typed."""
    form = check.form
    settings = {name: text_field(form, name) for name in PLAIN_SETTINGS}
    settings["on_primary"] = settings["on_primary"].strip() or None  # empty: picked automatically
    settings["texts"] = {language: {kind: text_field(form, text_input(language, kind)) for kind in BRAND_TEXTS}
                         for language in TEXT_LANGUAGES}
    settings["force_contrast"] = is_checked(form, "force_contrast")
    options = {name: is_checked(form, option_input(name)) for name in OPTION_FLAGS}
    options["fields"] = {name: check.choice(field_input(name), FIELD_MODES) for name in FORM_FIELDS}
    options["topics"] = posted_topics(check)
    return settings, options


def posted_topics(check: AdminForm) -> list[dict]:
    """The topics of the rows filled in, in order: the page shows them again in the first rows."""
    topics = []
    for row in range(MAX_TOPICS):
        label = text_field(check.form, topic_input(row, "label")).strip()
        group = text_field(check.form, topic_input(row, "group")).strip()
        if label or group:
            topics.append({"label": label, "group": group})
            if not label:
                check.refuse(topic_input(len(topics) - 1, "label"), NO_LABEL)
    return topics


def is_checked(form: FormData, name: str) -> bool:
    """Whether a checkbox is ticked (a browser sends it only then)."""
    return bool(text_field(form, name))


def input_values(settings: dict, options: dict) -> dict:
    """Each input's value for ``settings`` and ``options``, keyed by the input's name."""
    texts = settings.get("texts", {})
    values = {name: settings.get(name) or "" for name in PLAIN_SETTINGS}
    values.update({text_input(language, kind): texts.get(language, {}).get(kind, "")
                   for language in TEXT_LANGUAGES for kind in BRAND_TEXTS})
    values["force_contrast"] = bool(settings.get("force_contrast"))
    values.update({option_input(name): bool(options.get(name)) for name in OPTION_FLAGS})
    values.update({field_input(name): options.get("fields", {}).get(name, "") for name in FORM_FIELDS})
    topics = list(options.get("topics", ()))
    for row in range(MAX_TOPICS):
        topic = topics[row] if row < len(topics) else {}
        values[topic_input(row, "label")] = topic.get("label", "")
        values[topic_input(row, "group")] = topic.get("group", "")
    return values


def uploaded_logo(form: FormData) -> bytes | None:
    """The chosen logo file's bytes; None when none was chosen."""
    upload = form.get("logo")
    if not isinstance(upload, UploadFile) or not upload.filename:  # a browser sends no name without a file
        return None
    upload.file.seek(0)
    return upload.file.read()


def refusal(error: BrandError | brands.TopicsInvalid) -> tuple[str, Message]:
    """The input a rule's refusal belongs to, and the message shown beside it."""
    field = error.field if error.field in BRAND_INPUTS else WHOLE_BRAND
    return field, (REFUSED, {"rule": error.message})


# -- preview and contrast ------------------------------------------------------------------


@dataclass
class BrandPreview:
    """What the page shows beside the form: the rendered picture, each text pair's contrast, the refusals."""

    errors: dict[str, Message]
    pairs: list[dict]
    image: str | None  # a data: URL of the PNG

    def answer(self, translate) -> dict:
        pairs = [{**pair, "label": translate(pair["name"])} for pair in self.pairs]
        return {"ok": not self.errors, "pairs": pairs, "image": self.image,
                "errors": {field: translate(text, **values) for field, (text, values) in self.errors.items()}}


def brand_preview(settings: dict, logo: Image.Image, logo_name: str, errors: dict[str, Message]) -> BrandPreview:
    """The preview of ``settings`` with ``logo``; a brand refused only for its contrast is drawn anyway."""
    errors = dict(errors)
    brand = None
    try:
        brand = brands.brand_of(settings)
    except BrandError as error:
        errors.setdefault(*refusal(error))
        brand = _drawable_anyway(settings)
    image = None
    if brand is not None:
        brand = brand.with_logo(logo, logo_name)
        image = data_url(preview(brand, render_assets(brand)))
    return BrandPreview(errors=errors, pairs=contrast_rows(settings), image=image)


def _drawable_anyway(settings: dict) -> Brand | None:
    try:
        return brands.brand_of({**settings, "force_contrast": True})
    except BrandError:
        return None


def contrast_rows(settings: dict) -> list[dict]:
    """Every text/background pair the agent draws with these colours, its contrast, and whether it passes."""
    colours = brand_colours(settings)
    if colours is None:
        return []
    return [{"name": pair.name, "text": pair.text, "background": pair.background,
             "contrast": f"{pair.contrast:.2f}", "passes": pair.contrast >= palette.MIN_TEXT_CONTRAST}
            for pair in palette.text_pairs(colours)]


def brand_colours(settings: dict) -> palette.Palette | None:
    """The agent's colours for the settings' colours, normalised as the brand does; None if one is no colour."""
    try:
        primary, accent = colors.normalize(settings["primary"]), colors.normalize(settings["accent"])
        on_primary = colors.normalize(settings["on_primary"]) if settings.get("on_primary") else None
    except ValueError:
        return None
    return palette.Palette.from_colours(primary, on_primary, accent)


def data_url(image: Image.Image) -> str:
    encoded = io.BytesIO()
    image.save(encoded, format="PNG")
    return "data:image/png;base64," + base64.b64encode(encoded.getvalue()).decode("ascii")


@dataclass
class KeptBrand:
    """The brand the module's downloads carry now, as the form shows it, and its logo."""

    settings: dict
    options: dict
    logo: Image.Image
    logo_name: str
    errors: dict[str, Message]  # why a brand kept under older rules would be refused now


def kept_brand(module: Module) -> KeptBrand:
    stored = module.brand
    try:
        brand, options = brands.module_brand(module)
    except brands.StoredBrandInvalid as invalid:  # the editor opens all the same, to fix it
        default = Brand()
        settings, options = {**default.settings(), **stored.settings}, {**asdict(module_config.Options()), **stored.options}
        return KeptBrand(settings, options, default.logo_image, str(default.logo), dict([refusal(invalid.error)]))
    logo_name = brands.STORED_NAME if stored is not None and stored.logo_png else str(brand.logo)
    return KeptBrand(brand.settings(), asdict(options), brand.logo_image, logo_name, {})


def previewed_logo(module: Module, upload: bytes | None, *, remove: bool) -> tuple[Image.Image, str, dict]:
    """The logo the preview shows and what it is called: a chosen file, else the default one if the
    module's own is to be removed, else the current one; with why a chosen file is refused."""
    if upload is not None:
        try:
            return decode_logo(upload, brands.UPLOAD_NAME, max_bytes=brands.MAX_UPLOAD_BYTES), brands.UPLOAD_NAME, {}
        except BrandError as error:
            kept = kept_brand(module)
            return kept.logo, kept.logo_name, dict([refusal(error)])
    if remove:
        default = Brand()
        return default.logo_image, str(default.logo), {}
    kept = kept_brand(module)
    return kept.logo, kept.logo_name, {}


# -- the page ------------------------------------------------------------------------------


def editor_context(module: Module, settings: dict, options: dict, errors: dict[str, Message], kept: KeptBrand,
                   groups: list[str] = ()) -> dict:
    """What ``admin/brand.html`` shows for ``settings`` and ``options`` of ``module``, whose company has ``groups``."""
    shown = brand_preview(settings, kept.logo, kept.logo_name, errors)
    stored = module.brand
    return {
        "module": {"id": module.id, "name": module.name}, "page": page_path(module.id), "preview_path": page_path(module.id) + PREVIEW,
        "version": stored.version if stored else 0, "has_logo": bool(stored and stored.logo_png),
        "values": input_values(settings, options), "pickers": colour_pickers(settings),
        "errors": shown.errors, "preview": shown, "min_contrast": palette.MIN_TEXT_CONTRAST,
        "max_upload_mb": brands.MAX_UPLOAD_BYTES // (1024 * 1024),
        "max_upload_bytes": brands.MAX_UPLOAD_BYTES, "text_grid": text_grid(),
        "window_languages": language_choices(),
        "options": [(option_input(name), OPTION_LABELS.get(name, name)) for name in OPTION_FLAGS],
        "form_fields": [(field_input(name), FIELD_LABELS.get(name, name)) for name in FORM_FIELDS],
        "modes": [(mode, MODE_LABELS.get(mode, mode)) for mode in FIELD_MODES],
        "topic_rows": topic_rows(input_values(settings, options), groups), "max_topic_chars": MAX_TOPIC_CHARS,
    }


def topic_rows(values: dict, groups: list[str]) -> list[dict]:
    """Each topic row's inputs and its group choices (value, message or None for the value itself, the
    message's values): the module's group, the company's groups, and a group the row names that is gone
    (so that the page shows it, and saving says what to fix)."""
    rows = []
    for row in range(MAX_TOPICS):
        label, group = topic_input(row, "label"), topic_input(row, "group")
        choices = [("", MODULE_GROUP, {}), *((name, None, {}) for name in groups)]  # None: the name as it is
        if values[group] and values[group] not in groups:
            choices.append((values[group], GONE_GROUP, {"name": values[group]}))
        rows.append({"label": label, "group": group, "choices": choices})
    return rows


def text_grid() -> dict:
    """The texts' table: a column per language (and one for every language), a row per text."""
    columns = [(None, EVERY_LANGUAGE), *((language, LANGUAGE_NAMES.get(language, language))
                                        for language in TEXT_LANGUAGES)]
    rows = [(kind, TEXT_LABELS.get(kind, kind), BRAND_TEXT_LIMITS[kind],
             [grid_input(language, kind) for language, _label in columns]) for kind in BRAND_TEXTS]
    return {"columns": [label for _language, label in columns], "rows": rows}


def grid_input(language: str | None, kind: str) -> str | None:
    """The input of a text in a language, or for every language (``language`` None); None where the
    brand has no such text."""
    if language is None:
        return kind if kind in EVERY_LANGUAGE_TEXTS else None
    return text_input(language, kind)


def language_choices() -> list[tuple[str, str]]:
    return [(code, AUTO_LANGUAGE if code == "auto" else LANGUAGE_NAMES.get(code, code))
            for code in module_config.LANGUAGES]


def colour_pickers(settings: dict) -> dict[str, str]:
    """The colour pickers' values (``#rrggbb``) beside the colour inputs; the text colour shows the
    automatic one while it is left empty."""
    colours = brand_colours(settings)
    pickers = {}
    for name in COLOUR_SETTINGS:
        try:
            pickers[name] = colors.normalize(settings.get(name) or getattr(colours, name, "")).lower()
        except ValueError:
            pickers[name] = "#000000"
    return pickers


def _brand_page(request: Request, login: Login, state, module_id: str, *, posted: tuple[dict, dict] | None = None,
                errors: dict | None = None, logo_lost: bool = False, remove_logo: bool = False,
                status: int = 200) -> Response:
    with state.db.read() as session:
        module = company_module(session, login, module_id)
        kept = kept_brand(module)
        settings, options = posted or (kept.settings, kept.options)
        context = editor_context(module, settings, options, (errors or {}) if posted else kept.errors, kept,
                                 group_names(session, module.company_id))
    return render(request, "admin/brand.html", login=login, status=status, logo_lost=logo_lost, remove_logo=remove_logo,
                  saved=request.query_params.get("saved") == "1", **context)


@router.get("")
def brand_page(request: Request, module_id: str, login: AdminLoginDep, state: StateDep) -> Response:
    """The module's brand in a form, with a preview and the contrast of every text pair."""
    return _brand_page(request, login, state, module_id)


@router.post("")
def save_brand(request: Request, module_id: str, login: AdminLoginDep, state: StateDep, form: FormDep) -> Response:
    """Keep the brand, its options and a chosen logo, all or nothing; the brand's version goes up."""
    check = AdminForm(form)
    settings, options = posted_brand(check)
    logo, remove_logo = uploaded_logo(form), is_checked(form, "remove_logo")
    if check.ok:
        try:
            with state.db.write() as session:
                keep_brand(session, company_module(session, login, module_id), settings, options, logo=logo,
                           remove_logo=remove_logo)
        except (BrandError, brands.TopicsInvalid) as error:
            field, (message, values) = refusal(error)
            check.refuse(field, message, **values)
    if not check.ok:
        return _brand_page(request, login, state, module_id, posted=(settings, options), errors=check.errors,
                           logo_lost=logo is not None and "logo" not in check.errors, remove_logo=remove_logo,
                           status=check.status)
    return RedirectResponse(page_path(module_id) + "?saved=1", status_code=303)


def keep_brand(session: Session, module: Module, settings: dict, options: dict, *, logo: bytes | None,
               remove_logo: bool) -> None:
    """Store what changed as one version; a ``BrandError`` or ``TopicsInvalid`` leaves the transaction to be
    rolled back."""
    brands.save(session, module, settings, options, logo=logo, remove_logo=remove_logo)


@router.post(PREVIEW)
def brand_preview_json(module_id: str, login: AdminLoginDep, state: StateDep, form: FormDep,
                       translate: TranslateDep) -> Response:
    """The preview of the form as it is now: ``{ok, errors, pairs, image}``; nothing is saved."""
    check = AdminForm(form)
    settings, _options = posted_brand(check)
    with state.db.read() as session:
        module = company_module(session, login, module_id)
        logo, logo_name, logo_errors = previewed_logo(module, uploaded_logo(form),
                                                      remove=is_checked(form, "remove_logo"))
    shown = brand_preview(settings, logo, logo_name, {**check.errors, **logo_errors})
    return JSONResponse(shown.answer(translate), headers={"Cache-Control": "no-store"})
