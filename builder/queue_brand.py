"""The module's brand on the queue, which keeps it for the module's downloads and builds.

A build whose config has a ``[brand]`` section sends that brand, the ``[options]`` and the logo to
the queue (:func:`push`), so that the dashboard's downloads carry them too; a config without
``[brand]`` builds with the brand and options the queue keeps (:func:`pull`).
"""

from dataclasses import asdict

from branding.model import DEFAULT_LOGO, Brand, BrandError, decode_logo, logo_png
from builder.module_config import ModuleSpec
from builder.registration import call_queue, problem_detail
from sosqueue import module_config
from sosqueue.errors import ConfigError, NetworkError


def push(spec: ModuleSpec, *, module_id: str, server: str, admin_token: str) -> int:
    """Make ``spec``'s brand, options and logo the queue's brand of the module; its new version."""
    body = {**spec.brand.settings(), "options": asdict(spec.options)}
    _answer(call_queue("PUT", _url(server, module_id), server=server, admin_token=admin_token, json=body),
            module_id, "update")
    if spec.brand.logo == DEFAULT_LOGO:
        answer = call_queue("DELETE", _url(server, module_id, "/logo"), server=server, admin_token=admin_token)
    else:  # the decoded logo, as the build renders it: small, and the same pixels on both sides
        answer = call_queue("PUT", _url(server, module_id, "/logo"), server=server, admin_token=admin_token,
                            image=logo_png(spec.brand.logo_image))
    return _answer(answer, module_id, "update")["version"]


def pull(module_id: str, *, server: str, admin_token: str) -> tuple[Brand, module_config.Options, int]:
    """The queue's brand of the module, its options and the brand's version."""
    shown = _answer(call_queue("GET", _url(server, module_id), server=server, admin_token=admin_token),
                    module_id, "show")
    try:
        options = module_config.options_from_json(shown["options"])
        settings = {name: shown[name] for name in Brand.setting_names() if shown.get(name) is not None}
        brand = Brand.from_mapping(settings)
        if shown.get("logo_url"):
            brand = brand.with_logo(_logo(shown["logo_url"], module_id, server, admin_token), _logo_name(module_id))
        return brand, options, shown["version"]
    except (AttributeError, BrandError, KeyError, TypeError, ValueError) as error:
        raise NetworkError(f"the queue's brand of module {module_id} cannot be used ({error}); set it again on the "
                           "queue, or add a [brand] section to the config") from None


def _logo(path: str, module_id: str, server: str, admin_token: str):
    answer = call_queue("GET", f"{server.rstrip('/')}{path}", server=server, admin_token=admin_token)
    if answer.status_code != 200:
        raise NetworkError(f"the queue did not send module {module_id}'s logo ({answer.status_code}: "
                           f"{problem_detail(answer)}); build again")
    return decode_logo(answer.content, _logo_name(module_id))


def _logo_name(module_id: str) -> str:
    return f"the queue's logo of module {module_id}"


def _url(server: str, module_id: str, tail: str = "") -> str:
    return f"{server.rstrip('/')}/api/v1/modules/{module_id}/brand{tail}"


def _answer(response, module_id: str, verb: str) -> dict:
    if response.status_code == 200:
        return response.json()
    detail = problem_detail(response)
    if response.status_code in (401, 403):
        raise ConfigError(f"the queue refused the admin token ({detail}); pass an admin's API token with --token")
    if response.status_code == 422:
        raise ConfigError(f"the queue refused the brand: {detail}")
    no_such_route = response.status_code == 405 or (response.status_code == 404 and detail == "Not Found")
    hint = "; a queue older than module brands needs updating first" if no_such_route else ""
    raise NetworkError(f"the queue could not {verb} the brand of module {module_id} "
                       f"({response.status_code}: {detail}){hint}")
