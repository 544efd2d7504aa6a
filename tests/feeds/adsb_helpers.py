"""Loopback TCP plumbing for the ADS-B decoder tests: a real server socket that plays a
receiver, the real :class:`~sharedsky.feeds.net.TcpFeed` reading it, and a running
:class:`~sharedsky.services.live.LiveService` ingesting what the feed yields."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from sharedsky.feeds.decoding import Decoder
from sharedsky.feeds.net import TcpFeed
from sharedsky.model.tracks import TrackBatch
from sharedsky.services.live import LiveConfig, LiveService


class Receiver:
    """A loopback TCP server standing in for a receiver's output port.

    ``connections[k]`` is the list of byte pieces sent to the k-th client (each piece with its
    own ``sendall``, so a line or frame may be cut across reads); the server then closes that
    connection, which is how a receiver restart or a network break looks to the client.
    """

    def __init__(self, connections: Sequence[Sequence[bytes]]) -> None:
        self._connections = [list(c) for c in connections]
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(20.0)
        self.port: int = self._sock.getsockname()[1]
        self.sent = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="test-receiver", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            for pieces in self._connections:
                conn, _ = self._sock.accept()
                with conn:
                    for p in pieces:
                        conn.sendall(p)
                        self.sent += len(p)
                    conn.shutdown(socket.SHUT_WR)
                    time.sleep(0.05)  # let the client read to the end before the close
        except BaseException as exc:  # surfaced by join()
            self.error = exc
        finally:
            self._sock.close()

    def join(self) -> None:
        self._thread.join(30.0)
        assert not self._thread.is_alive(), "the test receiver did not finish"
        if self.error is not None:
            raise self.error


def pieces(data: bytes, seed: int = 0, max_piece: int = 4096) -> list[bytes]:
    """``data`` cut at random places (pieces of 1..max_piece bytes)."""
    rnd = random.Random(seed)
    out, i = [], 0
    while i < len(data):
        n = rnd.randint(1, max_piece)
        out.append(data[i : i + n])
        i += n
    return out


def through_tcp(
    decoder: Decoder,
    connections: Sequence[Sequence[bytes]],
    clock: Callable[[], float] = time.time,
) -> tuple[TrackBatch, TcpFeed]:
    """Everything ``decoder`` yields when a :class:`TcpFeed` reads ``connections`` (in order)."""
    rx = Receiver(connections)
    feed = TcpFeed(
        "127.0.0.1",
        rx.port,
        decoder,
        backoff=(0.01, 0.01),
        max_connections=len(connections),
        clock=clock,
    )
    out = list(feed.batches())
    rx.join()
    return TrackBatch.concat(out) if out else TrackBatch.empty(), feed


def into_service(
    decoder: Decoder,
    connections: Sequence[Sequence[bytes]],
    clock: Callable[[], float],
    party: str = "alpha",
) -> tuple[LiveService, TcpFeed]:
    """A running :class:`LiveService` (fake ``clock``) fed by a :class:`TcpFeed` reading
    ``connections``; returns once the feed has ended. The caller stops the service."""
    rx = Receiver(connections)
    feed = TcpFeed(
        "127.0.0.1",
        rx.port,
        decoder,
        backoff=(0.01, 0.01),
        max_connections=len(connections),
        clock=clock,
    )
    live = LiveService(None, LiveConfig(), clock)
    live.attach_feed(party, feed)
    rx.join()
    for th in threading.enumerate():
        if th.name == f"feed-{party}-{feed.name}":
            th.join(30.0)
            assert not th.is_alive(), "the feed did not end"
    return live, feed


def check_counts(dec: Decoder, batches: Sequence[TrackBatch]) -> None:
    """Every message is counted once; rejects returned equal rejects counted; positions valid."""
    c = dec.counters.snapshot()
    assert c.messages == c.decoded + c.rejected + c.ignored
    assert sum(len(b.rejects) for b in batches) == c.rejected
    for b in batches:
        assert np.all(np.abs(b.lat) <= 90.0) and np.all(np.abs(b.lon) <= 180.0)
