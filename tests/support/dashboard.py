"""A browser-like HTTP client for the dashboard: cookies, CSRF tokens from the pages, forms."""

import re

import httpx

PASSWORD = "correct horse battery staple"
_LOGIN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_PAGE_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class DashboardClient:
    """Signs in like a browser and posts forms with the CSRF token the pages carry."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=15, follow_redirects=False)
        self.csrf_token: str | None = None

    def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        page = self.http.get("/login")
        token = _LOGIN_TOKEN.search(page.text).group(1)
        response = self.http.post("/login", data={"email": email, "password": password, "csrf_token": token})
        if response.status_code == 303:
            self.csrf_token = _PAGE_TOKEN.search(self.http.get("/queue").text).group(1)
        return response

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs) -> httpx.Response:
        """A form post with this login's CSRF token (unless ``data`` brings its own)."""
        return self.http.post(path, data={"csrf_token": self.csrf_token, **(data or {})}, **kwargs)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "DashboardClient":
        return self

    def __exit__(self, *_) -> None:
        self.close()


def logged_in(base_url: str, email: str, password: str = PASSWORD) -> DashboardClient:
    client = DashboardClient(base_url)
    response = client.login(email, password)
    assert response.status_code == 303, response.text
    return client


# What the dashboard's pages say, word for word.
NOT_ADMIN = "Only an admin of your company can open this page."
NOT_HERE = "There is no such service request, user, group or module here."
FORGED = "This form has expired or did not come from this dashboard. Go back, reload the page and try again."
