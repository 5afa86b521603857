"""Who may use the preview: it is as private as the camera it shows.

A server on 127.0.0.1 is open to every program of every user on the machine, and to every web
page the user visits (an <img> or a form may point anywhere). So:

- Host: only the names of the address the server is bound to are answered (400 otherwise), so a
  web page that rebinds its own DNS name to 127.0.0.1 cannot read the camera (DNS rebinding).
- Token: each run makes a random secret (128 bits). The URL vcam prints, and the tray's "Open
  preview" opens, carries it as ?token=…; opening the page with it sets an HttpOnly,
  SameSite=Strict cookie, so the page, its stream and its API calls need no token in their links,
  and no other site can make the browser send the cookie. Scripts pass the token as the query
  parameter or as `Authorization: Bearer TOKEN`. Every route but /healthz refuses a request with
  neither (401) or with a wrong one (403).
- Origin: a request that changes something (POST) and says it comes from another origin is
  refused (403), whatever it carries.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass

import flask

TOKEN_PARAMETER = "token"
OPEN_PATHS = frozenset({"/healthz"})
"""Paths anyone may ask: whether the server runs says nothing about the camera."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
FORWARD_PAGE = ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>vcam preview</title>'
                '<meta http-equiv="refresh" content="0;url=/"></head><body><a href="/">Open the preview</a></body></html>')


def is_local(host: str) -> bool:
    """Whether `host` (an address to bind to) is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a Host header, without its port or IPv6 brackets: "[::1]:8765" → "::1"."""
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else ""
    return header.partition(":")[0].lower()


@dataclass(frozen=True)
class PreviewAccess:
    token: str
    allowed_hosts: frozenset[str] | None
    """Host names a request may be addressed to; None: any (a server bound beyond loopback)."""

    @classmethod
    def for_host(cls, host: str) -> PreviewAccess:
        """A fresh secret, and the host names of a server bound to `host`: the loopback names and
        `host` itself (127.0.0.2 or ::1 answer to their own name) when it is local, any otherwise."""
        allowed = LOOPBACK_NAMES | {host.strip("[]").lower()}
        return cls(secrets.token_urlsafe(16), frozenset(allowed) if is_local(host) else None)

    def page_url(self, server_url: str) -> str:
        """The URL to open: the server's own with the token."""
        return f"{server_url}?{TOKEN_PARAMETER}={self.token}"

    def install(self, app: flask.Flask) -> None:
        app.before_request(self._check)
        app.after_request(self._remember)

    # --- per request -------------------------------------------------------------------------

    def _check(self) -> flask.Response | None:
        request = flask.request
        if self.allowed_hosts is not None and host_name(request.host) not in self.allowed_hosts:
            return refuse(400, f"this preview answers only to {', '.join(sorted(self.allowed_hosts))}")
        if request.path in OPEN_PATHS:
            return None
        given = self._given_token(request)
        if given is None:
            return refuse(401, "this preview needs its token: open the URL vcam printed (…/?token=…), "
                               "or pass ?token= or an Authorization: Bearer header")
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            return refuse(403, "wrong token: use the one in the URL this run of vcam printed")
        origin = request.headers.get("Origin")
        if request.method not in SAFE_METHODS and origin is not None and origin != own_origin(request):
            return refuse(403, f"changes are taken only from the preview page itself, not from {origin}")
        if request.method == "GET" and request.path == "/" and TOKEN_PARAMETER in request.args:
            # Keep the token out of the address bar (and screen shares, and history): the cookie
            # set on this answer carries it from now on.
            if request.headers.get("Sec-Fetch-Site") == "cross-site":
                # Come from elsewhere (the tray's redirect file, a link): the browser would not
                # send a SameSite=Strict cookie along a redirect that began on another site, so
                # a page of our own makes the next step, from this site.
                return flask.Response(FORWARD_PAGE, mimetype="text/html")
            return flask.redirect("/", code=303)
        return None

    def _given_token(self, request: flask.Request) -> str | None:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials:
            return credentials.strip()
        return request.args.get(TOKEN_PARAMETER) or request.cookies.get(cookie_name(request))

    def _remember(self, response: flask.Response) -> flask.Response:
        request = flask.request
        given = request.args.get(TOKEN_PARAMETER)
        if given is not None and secrets.compare_digest(given.encode(), self.token.encode()):
            response.set_cookie(cookie_name(request), self.token, httponly=True, samesite="Strict", path="/")
        return response


def cookie_name(request: flask.Request) -> str:
    """The cookie for this server's port: browsers share cookies across a host's ports, and the
    tray's preview and a `vcam web` may run side by side, each with its own token."""
    return f"vcam_preview_{request.environ.get('SERVER_PORT', '')}"


def own_origin(request: flask.Request) -> str:
    """The Origin a browser sends from this server's own page: http://HOST[:PORT] as addressed."""
    return f"{request.scheme}://{request.host}"


def refuse(status: int, message: str) -> flask.Response:
    response = flask.jsonify(error=message)
    response.status_code = status
    return response
