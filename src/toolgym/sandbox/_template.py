"""A worker's template: the clean process that forks the worker's call processes.

Forked once from a sandbox worker, after the worker has confined itself and before it has read any group,
the template does nothing but fork call processes on the worker's request and reap them when the worker
has killed them. It never runs tool code and never holds a group, a result or the pool's pipes. So:

* every call process starts from the same clean state -- not even freed memory of another environment's
  results, which pass through the worker, is in it;
* the worker's own memory is no longer shared with the living call processes, so its protocol work does not
  copy pages it shares with them (about half of what a call process used to cost), and a fork no longer
  holds up the worker: the template forks the next spare while the worker serves.

The worker and its template talk over a ``SOCK_SEQPACKET`` socket pair made before the worker's seccomp
filter forbids sockets. Requests (``REQUEST``): ``FORK`` a call process for folder ``n`` -- the answer
carries its pid, and its two pipe ends (the calls' write end, the results' read end) as ``SCM_RIGHTS``; or
``REAP`` process ``pid``, which the worker has killed -- the answer is its wait status. Answers come in
request order. A process is reaped only when the worker asks, so its pid stays its own until then and the
worker may signal it by pid.

Standard library only: imported by the worker as a top-level module.
"""

from __future__ import annotations

import _socket  # not socket: it imports selectors and enum classes, memory every fork would copy
import os
import struct
from collections import deque
from collections.abc import Callable

import _confine

REQUEST = struct.Struct("<ci")  # op, folder index or pid
ANSWER = struct.Struct("<ii")  # pid, wait status (0 for a fork)
FORK, REAP = b"F", b"R"
_FDS = struct.Struct("<2i")  # the two pipe ends handed over with a forked process
_RIGHTS = (_socket.SOL_SOCKET, _socket.SCM_RIGHTS)
_exit = os._exit  # bound before the worker's confinement replaces os._exit


class Template:
    """The worker's side of its template (see the module)."""

    def __init__(self) -> None:
        self.sock, self._theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        self.pid = 0
        self.waiting: deque[tuple[bytes, object]] = deque()  # what each unanswered request was for

    def start(self, prepare: Callable[[], None], run_child: Callable[[int, int, int], None]) -> None:
        """Fork the template. In it, ``prepare()`` runs first (it drops what the template must not hold: the
        pool's pipes), and each fork runs ``run_child(folder, calls_read_fd, results_write_fd)``, which never
        returns."""
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                self.sock.close()
                prepare()
                _serve(self._theirs, parent, run_child)
            finally:
                _exit(0)
        self.pid = pid
        self._theirs.close()

    def fileno(self) -> int:
        return self.sock.fileno()

    def fork(self, folder: int, tag: object) -> None:
        self._ask(REQUEST.pack(FORK, folder))
        self.waiting.append((FORK, tag))

    def reap(self, pid: int, tag: object) -> None:
        self._ask(REQUEST.pack(REAP, pid))
        self.waiting.append((REAP, tag))

    def _ask(self, request: bytes) -> None:
        try:
            self.sock.send(request)
        except OSError as exc:
            raise EOFError("the template is gone") from exc

    def forking(self) -> int:
        return sum(op == FORK for op, _ in self.waiting)

    def answer(self) -> tuple[bytes, object, int, int, list[int]]:
        """The next answer (blocks until it comes): ``(op, tag, pid, status, fds)``. Raises ``EOFError`` if the
        template is gone."""
        try:
            data, ancillary, _flags, _addr = self.sock.recvmsg(ANSWER.size, _socket.CMSG_LEN(_FDS.size))
        except OSError as exc:
            raise EOFError("the template is gone") from exc
        fds = [fd for level, kind, fd_data in ancillary if (level, kind) == _RIGHTS
               for fd in struct.unpack(f"{len(fd_data) // 4}i", fd_data[:len(fd_data) // 4 * 4])]
        if len(data) != ANSWER.size or not self.waiting:
            for fd in fds:
                os.close(fd)
            raise EOFError("the template is gone")
        op, tag = self.waiting.popleft()
        pid, status = ANSWER.unpack(data)
        if op == FORK and len(fds) != 2:
            for fd in fds:
                os.close(fd)
            raise EOFError("the template could not hand over a call process")
        return op, tag, pid, status, fds


def _serve(sock, parent: int, run_child: Callable[[int, int, int], None]) -> None:
    """The template's loop. It touches as little memory as it can between forks: every page it writes to
    while a call process lives is copied."""
    if not _confine.die_with_parent(parent):
        return
    _confine.release_free_memory()  # fewer pages mapped: every fork copies their page tables, every exit unmaps them
    recv, send, sendmsg, pipe, fork, close, waitpid = (sock.recv, sock.send, sock.sendmsg, os.pipe, os.fork,
                                                       os.close, os.waitpid)
    unpack, pack, fds, rights = REQUEST.unpack, ANSWER.pack, _FDS.pack, _RIGHTS
    while True:
        try:
            data = recv(REQUEST.size)
        except OSError:
            return
        if len(data) != REQUEST.size:
            return  # the worker is gone
        op, arg = unpack(data)
        if op == FORK:
            cmd_r, cmd_w = pipe()
            res_r, res_w = pipe()
            pid = fork()
            if pid == 0:
                try:
                    run_child(arg, cmd_r, res_w)
                finally:
                    _exit(0)
            close(cmd_r)
            close(res_w)
            sendmsg([pack(pid, 0)], [(*rights, fds(cmd_w, res_r))])
            close(cmd_w)
            close(res_r)
        else:
            try:
                status = waitpid(arg, 0)[1]
            except ChildProcessError:
                status = -1
            send(pack(arg, status))
