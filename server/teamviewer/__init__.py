"""A TeamViewer-compatible service-case API over the queue (``/tv/api/v1``).

Integrations written for TeamViewer's Web API (sessions, their users and groups, connection
reports) keep working against sosqueue with another base URL and a user's API token. This package
maps between the two: ids (:mod:`.ids`), states (:mod:`.states`), the session object and its
changes (:mod:`.sessions`), the connection report (:mod:`.connections`), the wire models
(:mod:`.schemas`) and errors in TeamViewer's shape (:mod:`.errors`). The routes are
``server/api/routes/teamviewer.py``.
"""
