"""German for the admin pages; merged into server.web.locale_de.GERMAN."""

ADMIN: dict[str, str] = {}
