"""Who may talk to the dashboard: one ASGI middleware in front of every route.

- Bound to a local address without a token, only a local Host header is served: a page on
  another site cannot reach the dashboard through DNS rebinding.
- With a token, every request shows it (`Authorization: Bearer T`, or the `token` cookie that
  `?token=T` sets), or gets 401: pages, the API and /metrics alike.
- A POST from a browser must come from the dashboard's own origin (Origin, else Sec-Fetch-Site).
"""

import secrets
import urllib.parse
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
COOKIE = "token"
HEADERS = [  # for every response: no framing, no sniffing, no token in a Referer
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"),
]


def is_local(host: str) -> bool:
    return host.strip("[]").lower() in LOCAL_HOSTS


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Guard:
    def __init__(self, app: Any, *, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(Request(scope))
        if refusal is not None:
            await refusal(scope, receive, _with_headers(send))
            return
        await self.app(scope, receive, _with_headers(send))

    def refusal(self, request: Request) -> Response | None:
        """The response that stops this request, or None to let it through."""
        if self.token is None and not is_local(_host_name(request)):
            return _deny(request, 421, "this dashboard answers only to a local host name")
        if self.token is not None:
            offered = request.query_params.get(COOKIE)
            if offered is not None and request.method == "GET":
                return self.login(request, offered)
            if not self.has_token(request):
                return _unauthorized(request)
        if request.method == "POST" and not same_origin(request):
            return _deny(request, 403, "refused: the request comes from another site")
        return None

    def has_token(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and self.matches(value.strip()):
            return True
        return self.matches(request.cookies.get(COOKIE, ""))

    def matches(self, offered: str) -> bool:
        assert self.token is not None
        return bool(offered) and secrets.compare_digest(offered.encode(), self.token.encode())

    def login(self, request: Request, offered: str) -> Response:
        """`?token=T`: set the cookie and show the same URL without the token in it."""
        if not self.matches(offered):
            return _unauthorized(request, "wrong token")
        rest = [(k, v) for k, v in request.query_params.multi_items() if k != COOKIE]
        target = request.url.path + ("?" + urllib.parse.urlencode(rest) if rest else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, offered, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response


def same_origin(request: Request) -> bool:
    """A browser names the page that sent a POST in Origin (or at least Sec-Fetch-Site);
    clients like curl send neither and cannot be a cross-site forgery."""
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


def _host_name(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/metrics"))


def _deny(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    return Response(message + "\n", status_code=status, media_type="text/plain")


def _unauthorized(request: Request, message: str = "a token is required") -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="queuectl"'}
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=401, headers=headers)
    from .pages import render_login

    return render_login(request, message, headers)


def _with_headers(send: Any) -> Any:
    async def sending(message: dict) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            message["headers"] = headers + [h for h in HEADERS if h[0] not in present]
        await send(message)

    return sending
