"""The preview's HTTP server: werkzeug's threaded server on a thread of its own, which can be
stopped with streams still open (werkzeug's own `run_simple` can only be ended with the process).

It knows nothing of vcam's routes or who may use them (`web`, `web_access`): it serves one WSGI
app on one address, ends every connection on `stop()`, and turns a bind failure into a one-line
VcamError (werkzeug would end the process).
"""

from __future__ import annotations

import errno
import logging
import socket
import threading

import flask
from werkzeug.serving import (BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler, get_sockaddr,
                              select_address_family)

from vcam.config import PREVIEW_HOST, PREVIEW_PORT
from vcam.errors import VcamError
from vcam.web_access import is_local

log = logging.getLogger("vcam")


class _Connections:
    """The open connections and the threads that serve them, so that stop() can end them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[socket.socket, threading.Thread] = {}
        self._noted: set[object] = set()

    def add(self, connection: socket.socket) -> None:
        with self._lock:
            self._open[connection] = threading.current_thread()

    def remove(self, connection: socket.socket) -> None:
        with self._lock:
            self._open.pop(connection, None)

    def note_once(self, kind: object, line: str) -> None:
        """Log `line` the first time a problem of this `kind` happens."""
        with self._lock:
            if kind in self._noted:
                return
            self._noted.add(kind)
        log.warning("preview: %s (further ones are not shown)", line)

    def close_all(self, timeout: float) -> None:
        with self._lock:
            items = list(self._open.items())
        for connection, _ in items:
            try:
                connection.shutdown(socket.SHUT_RDWR)  # a blocked read or write fails at once
            except OSError:
                pass
        for _, thread in items:
            thread.join(timeout)


class _RequestHandler(WSGIRequestHandler):
    connections: _Connections
    timeout = 10.0
    """Seconds a read or write may block: a client that stops reading, or that opens a connection
    and sends no request, is dropped after this."""

    header_seconds = 10.0
    """The most a request's line and headers may take to arrive in all: the read timeout above is
    per read, so a client that sends a byte every few seconds would otherwise hold its connection
    (and a thread) for ever."""

    def setup(self) -> None:
        super().setup()
        self.connections.add(self.connection)
        self._headers_due: threading.Timer | None = None

    def handle_one_request(self) -> None:
        try:
            # A connection kept alive between requests waits here, under the read timeout alone:
            # the deadline starts with a request's first byte.
            if not self.rfile.peek(1):
                self.close_connection = True
                return
        except (TimeoutError, OSError):
            self.close_connection = True  # idle past the read timeout, or gone: closed quietly
            return
        # A timer, not a socket option: it bounds the whole of the headers, however slowly they come.
        self._headers_due = threading.Timer(self.header_seconds, self._drop_slow_headers)
        self._headers_due.daemon = True
        self._headers_due.start()
        try:
            super().handle_one_request()
        finally:
            self._headers_due.cancel()

    def parse_request(self) -> bool:
        parsed = super().parse_request()  # the request line and the headers have all arrived
        if self._headers_due is not None:
            self._headers_due.cancel()
        return parsed

    def _drop_slow_headers(self) -> None:
        self.connections.note_once("slow headers", f"a request's headers took over {self.header_seconds:g} s; "
                                                   "dropped the connection")
        try:
            self.connection.shutdown(socket.SHUT_RDWR)  # the blocked read ends at once
        except OSError:
            pass

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.connections.remove(self.connection)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the page polls twice a second: a line per request would bury vcam's own news

    def log_error(self, format: str, *args: object) -> None:
        """Each kind of broken request (malformed, too long, …) once: under a flood of them a line
        each would bury vcam's own news by the thousand."""
        self.connections.note_once((format, args[:1]), format % args)


class _CappedServer(ThreadedWSGIServer):
    """werkzeug's threaded server with at most `max_connections` served at once: a connection
    past that is closed at once, instead of costing one more thread."""

    max_connections = 64

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(self.max_connections)

    def process_request(self, request: socket.socket, client_address: object) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: socket.socket, client_address: object) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class WebServer:
    """A threaded werkzeug server on a thread of its own: `WebServer(app, port=0).start().url`."""

    def __init__(self, app: flask.Flask, host: str = PREVIEW_HOST, port: int = PREVIEW_PORT,
                 write_timeout: float = 10.0, max_connections: int = _CappedServer.max_connections) -> None:
        self.app = app
        self.max_connections = max_connections
        self.host = host
        self.port = port
        self.write_timeout = write_timeout
        self._connections = _Connections()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebServer:
        if self._server is not None:
            return self
        if not is_local(self.host):
            log.warning("serving the preview on %s: anyone on the network who can reach this machine can watch "
                        "the camera; use --host 127.0.0.1 to keep it private", self.host)
        handler = type("PreviewRequestHandler", (_RequestHandler,),
                       {"connections": self._connections, "timeout": self.write_timeout,
                        "header_seconds": self.write_timeout})
        check_port_free(self.host, self.port)
        try:
            server = type("PreviewServer", (_CappedServer,), {"max_connections": self.max_connections})
            self._server = server(self.host, self.port, self.app, handler=handler)
        except SystemExit:  # werkzeug exits on a bind error; one taken since check_port_free
            raise VcamError(f"cannot serve on {self.host}:{self.port}; pick another port with --port") from None
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="vcam-web", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}/" if ":" in host else f"http://{host}:{self.port}/"

    def stop(self) -> None:
        """Stop taking requests, end the open ones (streams included) and wait for their threads."""
        if self._server is None:
            return
        self._server.shutdown()
        self._connections.close_all(timeout=self.write_timeout)
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def check_port_free(host: str, port: int) -> None:
    """VcamError, with the fix, when `host:port` cannot be served on. Checked with a socket of
    our own first, because werkzeug's make_server ends the process when its bind fails."""
    if port == 0:
        return
    family = select_address_family(host, port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server's own socket
        try:
            probe.bind(get_sockaddr(host, port, family))
        except OSError as err:
            raise VcamError(port_problem(host, port, err)) from None


def port_problem(host: str, port: int, err: OSError) -> str:
    if err.errno in (errno.EADDRINUSE, 10048):  # 10048: WSAEADDRINUSE on Windows
        return (f"port {port} on {host} is already in use (another vcam web?); stop that program "
                f"or pick another port with --port")
    if err.errno in (errno.EACCES, 10013):
        return f"no permission to serve on port {port}; pick a port above 1024 with --port"
    return f"cannot serve on {host}:{port} ({err.strerror or err}); check --host and --port"
