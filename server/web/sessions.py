"""Dashboard logins live in ``server.logins``; this name stays for the test helpers of other parts.

Import from ``server.logins``; nothing in the server imports this module.
"""

from server.logins import COOKIE, Login, authenticate, end, end_all_for, resolve, start, tokens_match

__all__ = ["COOKIE", "Login", "authenticate", "end", "end_all_for", "resolve", "start", "tokens_match"]
