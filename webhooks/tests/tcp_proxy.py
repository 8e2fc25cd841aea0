"""A TCP forwarder in front of PostgreSQL, cut and restored to simulate a database outage."""

from __future__ import annotations

import socket
import threading

PROXY_TIMEOUT = 5


class TcpProxy:
    """A TCP forwarder from 127.0.0.1:<port> to the database server, for simulating an outage.

    stop() closes the listening socket and every forwarded connection, so a
    client's persistent connection breaks as when the server goes away;
    start(port) listens again on the same port.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port: int | None = None
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._sockets: list[socket.socket] = []
        self._pumps: list[threading.Thread] = []

    def start(self, port: int = 0) -> int:
        assert self._listener is None, "already running"
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # rebind despite TIME_WAIT
        listener.bind(("127.0.0.1", port))
        listener.listen(16)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), name="proxy-accept", daemon=True)
        self._acceptor.start()
        return self.port

    def stop(self) -> None:
        listener, acceptor = self._listener, self._acceptor
        if listener is None:
            return
        self._listener = self._acceptor = None
        # shutdown() wakes the thread blocked in accept(); close() alone may not.
        _shutdown(listener)
        listener.close()
        acceptor.join(timeout=PROXY_TIMEOUT)
        assert not acceptor.is_alive(), "proxy accept thread did not stop"
        with self._lock:
            sockets, self._sockets = self._sockets, []
            pumps, self._pumps = self._pumps, []
        for sock in sockets:
            _shutdown(sock)  # both ends see EOF now; the pumps return
        for pump in pumps:
            pump.join(timeout=PROXY_TIMEOUT)
        assert not any(pump.is_alive() for pump in pumps), "proxy pump threads did not stop"
        for sock in sockets:
            sock.close()

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._sockets) // 2

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was shut down
            try:
                upstream = socket.create_connection(self.upstream, timeout=PROXY_TIMEOUT)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            pumps = [
                threading.Thread(target=_pump, args=(client, upstream), name="proxy-up", daemon=True),
                threading.Thread(target=_pump, args=(upstream, client), name="proxy-down", daemon=True),
            ]
            with self._lock:
                self._sockets += [client, upstream]
                self._pumps += pumps
            for pump in pumps:
                pump.start()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        _shutdown(source)
        _shutdown(target)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
