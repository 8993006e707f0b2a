"""A TCP proxy that can go silent: what a phone in a dead zone sees of a server.

`stall()` stops passing bytes either way without closing anything (connections stay open,
new ones are accepted and hang), the way a frozen server or a lost mobile signal looks from
a browser; `resume()` lets the bytes through again, held-back ones first.
"""

import contextlib
import socket
import threading

from tests.support.services import free_port

CHUNK = 65536  # bytes read at a time: a whole SSE event or HTTP response head


class StallingProxy:
    def __init__(self, upstream_port: int, host: str = "127.0.0.1"):
        self.host = host
        self.port = free_port()
        self.upstream_port = upstream_port
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server((host, self.port))
        self._listener.settimeout(0.2)  # the accept loop checks `_closed` this often

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def __enter__(self) -> "StallingProxy":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *_exc) -> None:
        self._closed.set()
        self._flowing.set()  # release pumps waiting to send
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            server = socket.create_connection((self.host, self.upstream_port))
            with self._lock:
                self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(CHUNK):
                self._flowing.wait()  # stalled: hold the bytes, close nothing
                if self._closed.is_set():
                    return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):  # already shut by the other pump
                    sock.shutdown(socket.SHUT_RDWR)
