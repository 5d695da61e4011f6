"""The supporters' dashboard: server-rendered pages, a live queue, admin pages.

Pages are plain HTML forms (they work without JavaScript); ``static/app.js`` adds the live
queue, countdowns and notifications on top. Everything a customer typed reaches the page
through Jinja's autoescaping or ``textContent``, never as markup.
"""

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from server import logins
from server.web import errors
from server.web.routes import (admin_brands, admin_company, admin_groups, admin_modules, admin_users, auth, join,
                               live, queue, requests, session)
from server.web.routes import reports
from server.web.templating import STATIC_DIR

#: (path pattern, limit) of the dashboard's routes that take larger bodies (``server.limits``).
LARGER_BODIES = admin_brands.LARGER_BODIES


def install(app: FastAPI) -> None:
    app.state.login_throttle = logins.Throttle(app.state.sosqueue.settings.login_attempts_per_minute)
    errors.install(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (auth, queue, live, requests, session, admin_users, admin_groups, admin_modules, admin_brands,
                   admin_company, reports, join):
        app.include_router(module.router, include_in_schema=False)
