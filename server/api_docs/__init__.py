"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), from files this server ships.

Swagger UI's and ReDoc's bundles come from the ``fastapi-offline`` package, pinned in
``pyproject.toml``: nothing is loaded from another host, so the pages work on a server without
internet, and they run under the dashboard's Content-Security-Policy (they share its origin and
its cookies). Neither page has an inline script: ``static/swagger-ui-init.js`` and
``static/redoc-init.js`` start them with what the page's markup says.

ReDoc needs three things more, on its page alone (:func:`redoc_policy`): its styles are written
into ``<style>`` elements, which carry a nonce made for each answer (two hashes cover the one
element its bundle writes before it can take the nonce); its search runs in a ``blob:`` worker.
Its side menu also shows Redocly's logo from their CDN: the policy blocks it, and only the
"API docs by Redocly" link text stays.
"""

import json
import secrets
from html import escape
from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import swagger_ui_default_parameters
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from server.web.templating import PAGE_HEADERS, content_security_policy

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
#: Where the pages' scripts and styles are served: this package's ``static/`` and the vendored bundles.
ASSETS_URL = "/docs/assets"
VENDORED = ("fastapi_offline", "static")
STATIC_DIR = files(__name__) / "static"
#: The ``<style>`` that ReDoc 2.5.3's bundle (fastapi-offline 1.7.7) writes as it loads, before
#: it can take the nonce: perfect-scrollbar's CSS, inserted empty and then filled. If an upgrade
#: changes it, tests/server/api_docs/test_browser_docs.py fails and Chromium's message names the new hash.
REDOC_STYLE_HASHES = (
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
)


def install(app: FastAPI) -> None:
    """Serve /docs, /redoc and their assets. FastAPI's own pages load them from a CDN: keep those off."""
    if app.docs_url or app.redoc_url or not app.openapi_url:
        raise ValueError("create the app with docs_url=None, redoc_url=None and an openapi_url; "
                         "server.api_docs serves the pages")
    title = escape(f"{app.title} API")
    swagger = _page(
        title,
        head=f'<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">',
        body=(f'<div id="swagger-ui" data-options="{escape(json.dumps(swagger_options(app.openapi_url)))}"></div>\n'
              f'<script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>\n'
              f'<script src="{ASSETS_URL}/swagger-ui-init.js"></script>'),
    )
    spec_url = escape(app.openapi_url)

    def swagger_page() -> HTMLResponse:
        return HTMLResponse(swagger, headers=PAGE_HEADERS)

    def redoc_page() -> HTMLResponse:
        nonce = secrets.token_urlsafe(18)
        page = _page(
            title,
            head="",
            body=(f'<div id="redoc" data-spec-url="{spec_url}"></div>\n'
                  f'<script src="{ASSETS_URL}/redoc.standalone.js"></script>\n'
                  f'<script src="{ASSETS_URL}/redoc-init.js" nonce="{nonce}"></script>'),
        )
        return HTMLResponse(page, headers={**PAGE_HEADERS, "Content-Security-Policy": redoc_policy(nonce)})

    app.mount(ASSETS_URL, StaticFiles(directory=str(STATIC_DIR), packages=[VENDORED]), name="api-docs-assets")
    app.add_api_route(DOCS_URL, swagger_page, include_in_schema=False)
    app.add_api_route(REDOC_URL, redoc_page, include_in_schema=False)


def swagger_options(openapi_url: str) -> dict:
    """FastAPI's options for Swagger UI, with the API document's address and no online validator."""
    return {**swagger_ui_default_parameters, "url": openapi_url, "validatorUrl": None}


def redoc_policy(nonce: str) -> str:
    """The dashboard's policy, with ReDoc's styles (this answer's nonce) and its search worker."""
    return content_security_policy(style_src=" ".join((f"'nonce-{nonce}'", *REDOC_STYLE_HASHES)),
                                   worker_src="'self' blob:")


def _page(title: str, *, head: str, body: str) -> str:
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{title}</title>\n'
            f'{head}\n</head>\n<body>\n{body}\n</body>\n</html>\n')
