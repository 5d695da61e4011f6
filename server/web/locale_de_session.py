"""The session view's German texts, English → German, as read from the dashboard's catalogue.

All the dashboard's German lives in ``server/web/locale/de/LC_MESSAGES/dashboard.po`` now; this
module only keeps ``SESSION`` for code that still imports it, and goes once nothing does.
"""

from server.web.i18n import translation

#: English → German, every text of the German catalogue (without contexts).
SESSION: dict[str, str] = {
    english: german for english, german in translation("de")._catalog.items()  # noqa: SLF001
    if isinstance(english, str) and english and "\x04" not in english
}
