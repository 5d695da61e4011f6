"""Reading HTML form fields and turning validation errors into messages beside the fields."""

from pydantic import ValidationError
from starlette.datastructures import FormData

MAX_FIELD_CHARS = 20_000


def text_field(form: FormData, name: str) -> str:
    """A text field's value; files and missing fields read as empty, NUL characters as nothing."""
    value = form.get(name)
    return value[:MAX_FIELD_CHARS].replace("\x00", "") if isinstance(value, str) else ""


def field_errors(error: ValidationError) -> dict[str, str]:
    """``{"email": "…"}``: the first message for each field, named by its last path part."""
    errors: dict[str, str] = {}
    for item in error.errors():
        field = str(item["loc"][-1]) if item.get("loc") else "form"
        errors.setdefault(field, item.get("msg", "is invalid").removeprefix("Value error, "))
    return errors
