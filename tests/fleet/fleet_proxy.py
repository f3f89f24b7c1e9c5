"""A TCP hop between one bot process and PostgreSQL: the process's only way to the database, so that a test can
cut that one process off (its server connections terminated, new ones refused) while the rest of the fleet
keeps the database, and heal it again on the same port."""

from __future__ import annotations

import contextlib
import socket
import threading


class Proxy:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`upstream`, a pair of threads per connection."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._open = True
        self._listener = self._listen(0)
        self.port: int = self._listener.getsockname()[1]

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return listener

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # shut by cut()
                return
            if not self._open:  # accepted as it was being cut
                client.close()
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:  # the server itself is down: the process sees its connection close
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        _shut(source, sink)
        with self._lock:
            self._pairs = [p for p in self._pairs if source not in p]

    def server_ports(self) -> list[int]:
        """The local ports of the connections to the server: pg_stat_activity's client_port of this process's
        backends."""
        with self._lock:
            return [server.getsockname()[1] for _, server in self._pairs if server.fileno() != -1]

    def cut(self) -> None:
        """Refuse new connections (the process sees 'connection refused') and close the open ones; terminate
        their backends first (pg_terminate_backend, by `server_ports()`) to drop them as the server would."""
        self._open = False
        _shut(self._listener)  # wakes the thread blocked in accept(), which close() alone does not
        self._listener.close()
        with self._lock:
            pairs = list(self._pairs)
        for client, server in pairs:
            _shut(client, server)

    def heal(self) -> None:
        """Accept connections again, on the same port."""
        self._open = True
        self._listener = self._listen(self.port)

    def close(self) -> None:
        self.cut()


def _shut(*ends: socket.socket) -> None:
    for end in ends:
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)
