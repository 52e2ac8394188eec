"""`queuectl dashboard`: bind, say where, serve until interrupted."""

import asyncio
import contextlib
import signal
import socket
import sys

from ..errors import QueuectlError, UsageError
from .security import is_local, new_token


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, so a taken port is one clear error before anything starts."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"cannot use host {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise QueuectlError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def url_of(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(*, db: str, host: str, port: int, token: str | None) -> None:
    generated = token is None and not is_local(host)
    if generated:
        token = new_token()
    sock = listen(host, port)
    asyncio.run(_serve(db=db, sock=sock, url=url_of(host, sock), token=token,
                       generated=generated))


async def _serve(*, db: str, sock: socket.socket, url: str, token: str | None,
                 generated: bool) -> None:
    import uvicorn

    from ..store import open_store
    from .app import create_app

    store = await open_store(db)  # a bad --db is an error line before "serving"
    try:
        app = create_app(db=db, token=token, store=store)
        config = uvicorn.Config(app, log_level="warning", access_log=False,
                                timeout_graceful_shutdown=1, server_header=False)
        where = f"{url}?token={token}" if token else url
        note = " (generated token: pass --token to choose one)" if generated else ""
        sys.stdout.write(f"queuectl dashboard on {where}{note}\n")
        sys.stdout.flush()
        await _server_class(uvicorn)(config).serve(sockets=[sock])
    finally:
        await store.close()


def _server_class(uvicorn):
    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            """Ctrl-C or SIGTERM: stop gracefully and exit 0, as a worker's first signal does
            (uvicorn's own handler re-raises the signal afterwards: exit 130). A second Ctrl-C
            closes open streams at once."""
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.handle_exit, sig, None)
            try:
                yield
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)

    return Server
