"""A sandbox worker: a confined process that has one call process forked per environment and never runs
tool code itself.

Started by :mod:`toolgym.sandbox._pool` as a script (not as part of the package, so it imports only the
standard library and its siblings). It talks to the pool over its original stdin/stdout, which it moves
to private descriptors at once; frames are :mod:`_wire`'s.

pool -> worker  per group (the calls of ONE environment): a header ``{"op": "run", "timeouts": [...]}``,
                then the group ``{"code": {key: source}, "calls": [[tool, key, arguments, timeout, cpu,
                scoping], ...]}``
                and its sources compiled by the pool (``marshal`` data of ``{key: code or None}``);
                ``{"op": "exit"}`` to stop.
worker -> pool  ``{"op": "ready", "ok": ..., "layers": {...}, "pid": ...}`` once, then lists of
                ``[status, output, seconds, detail]``, one per call: groups in the order they were sent, calls
                in their order (``detail``: ``None``, or the reason the worker itself gives for a call it had
                to end -- the pool words the tool message, as the worker never reads a group).

The worker reads only the headers. A group goes, unread, into memory that a fork does not copy, and from
there into the pipe of a call process (:mod:`_child`) forked beforehand by the worker's template
(:mod:`_template`): a process forked from the worker once it had confined itself, before it read any
group, that does nothing but fork -- so a call process never holds another environment's code, arguments
or results, not even in freed memory. Up to ``concurrency`` groups run at once, each in its own call
process, and spare processes are forked and confine themselves while they run. The worker reads each
process's results from a private pipe and checks
them against the calls it handed over; it watches the deadline of the running call (the call process
writes the position and start of the call it begins into a small shared page; a wrong value can only
misplace the blame among that same environment's calls), kills the process on a hang, a crash or a broken
frame, answers the call it was running, and hands the calls left to a fresh process. After the last result
it kills the call process, whatever the process is still doing (threads, memory, files); its folder is
emptied only once the template has reaped the process, before another process uses it.
"""

from __future__ import annotations

import gc
import json
import marshal
import mmap
import os
import select
import signal
import sys
import time
from collections import deque

import _call
import _child
import _confine
import _template
import _wire

_monotonic = time.monotonic


class _Folder:
    """One of a worker's folders (a tmpfs each, where the machine allows). A folder is emptied only once
    its last call process is gone, so a process being killed never writes into a folder another
    environment already uses."""

    def __init__(self, index: int, path: str):
        self.index, self.path = index, path
        self.landlock_fd: int | None = None
        self.busy = False  # a call process works in it, or is being forked for it
        self.owner: int | None = None  # the killed process that last used it, until the template reaped it
        self.clean_mtime = 0
        # where its call process writes which call it runs; shared with that process only (a fresh process
        # gets it only once the last one is gone, so nothing stale is ever read)
        self.progress = mmap.mmap(-1, _child.PROGRESS.size)

    def free(self) -> bool:
        return not self.busy and self.owner is None

    def take(self) -> None:
        _child.PROGRESS.pack_into(self.progress, 0, 0, 0.0)
        if os.stat(self.path).st_mtime_ns != self.clean_mtime:  # something was created or removed in it
            _child.clear_folder(self.path)
            self.clean_mtime = os.stat(self.path).st_mtime_ns
        self.busy = True


class _Process:
    """A call process: forked and confined, waiting for its calls, then running them."""

    def __init__(self, pid: int, cmd: int, results: int, progress, folder: _Folder, limit: int):
        self.pid, self.cmd, self.results, self.progress, self.folder = pid, cmd, results, progress, folder
        self.frames = _wire.FrameBuffer(limit)
        self.plan: list[int] = []
        self.got = 0
        self.watched = 0  # the call we think is running ...
        self.since = 0.0  # ... and since when

    def kill(self) -> None:
        # its pid is still its own: the template reaps it only when asked (see Worker._close)
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class _Group:
    """A group being served: its calls' timeouts, the group itself (unread), and the answers so far."""

    def __init__(self, timeouts: list[float], body: mmap.mmap, size: int):
        self.timeouts = timeouts
        self.body, self.size = body, size
        self.results: list = [None] * len(timeouts)
        self.todo = list(range(len(timeouts)))  # positions no process has been given yet
        self.sent = 0  # answers already forwarded to the pool
        self.proc: _Process | None = None

    def done(self) -> bool:
        return self.sent == len(self.results)


class Worker:
    def __init__(self, config: dict, cmd_fd: int, out_fd: int):
        self.cmd_fd, self.out_fd = cmd_fd, out_fd
        self.root = config["folder"]
        self.concurrency = max(1, int(config.get("concurrency", 2)))
        # processes forked ahead, confined and waiting: enough to start every group that may run at once
        self.spare_count = max(1, int(config.get("spares", self.concurrency)))
        # running processes, the spares, and killed ones the template has not reaped yet
        self.folders = [_Folder(i, os.path.join(self.root, f"f{i}"))
                        for i in range(2 * (self.concurrency + self.spare_count))]
        for f in self.folders:
            os.mkdir(f.path, 0o700)
        self.output_chars = config["output_chars"]
        self.text_limit = self.output_chars + _call.NOTE_ROOM  # what a call process's text may be, note included
        self.memory_mb = config["memory_mb"]
        self.grace = config["grace_s"]
        self.limit = _wire.frame_limit(self.output_chars)
        self.lockdown: _child.Lockdown | None = None
        # made now: the worker's seccomp filter forbids sockets
        self.template = _template.Template()
        self.spares: deque[_Process] = deque()
        self.exits: dict[int, int] = {}  # wait statuses someone is waiting for (see _close)
        self.groups: deque[_Group] = deque()
        self.buffers: list[mmap.mmap] = []  # fork-proof buffers no group uses now

    # ---- call processes ------------------------------------------------------------------------------
    def start_template(self) -> None:
        """Fork the template, the clean process that forks every call process (see :mod:`_template`)."""
        gc.collect()
        gc.freeze()  # a call process's garbage collections need not touch (and copy) the template's objects

        def prepare() -> None:  # in the template: the pool's pipes are the worker's alone
            os.close(self.cmd_fd)
            os.close(self.out_fd)
            self.lockdown.parent = os.getpid()  # a call process dies with the template, which dies with us

        lockdown = self.lockdown

        def run_child(index: int, cmd_r: int, res_w: int) -> None:  # in a call process; never returns
            folder = self.folders[index]
            for other in self.folders:  # the other folders' running-call records are other processes' own
                if other is not folder:
                    other.progress.close()
            _child.main(lockdown, cmd_r, res_w, folder.progress, folder.path, folder.landlock_fd, self.output_chars,
                        self.memory_mb)

        self.template.start(prepare, run_child)

    def _answer(self) -> None:
        """Take the template's next answer (blocking): a forked spare, or a reaped process's folder free again."""
        op, tag, pid, status, fds = self.template.answer()
        if op == _template.FORK:
            self.spares.append(_Process(pid, fds[0], fds[1], tag.progress, tag, self.limit))
        else:
            proc = tag
            proc.folder.owner = None
            if proc.pid in self.exits:
                self.exits[proc.pid] = status

    def _fork_spares(self) -> None:
        """Ask the template for spares until enough are ready or on their way (as folders allow)."""
        while len(self.spares) + self.template.forking() < self.spare_count:
            folder = next((f for f in self.folders if f.free()), None)
            if folder is None:
                return  # the killed processes' folders are free once the template has reaped them
            folder.take()
            self.template.fork(folder.index, folder)

    def _spare(self) -> _Process:
        """A spare call process, confined and waiting for its plan and group (waiting for the template if
        none is ready yet)."""
        while not self.spares:
            self._fork_spares()
            self._answer()  # something is always on its way: a spare, or a reap that frees a folder
        return self.spares.popleft()

    def _close(self, proc: _Process, wait: bool = False) -> int | None:
        """End a call process, whatever it is still doing (threads, allocations, writes), and have the
        template reap it; its folder is free once it has. With ``wait``, wait for that and return its wait
        status (``None`` if unknown)."""
        proc.kill()
        for fd in (proc.cmd, proc.results):
            if fd >= 0:
                os.close(fd)
        proc.cmd = proc.results = -1
        proc.folder.busy = False
        proc.folder.owner = proc.pid
        self.template.reap(proc.pid, proc)
        if not wait:
            return None
        self.exits[proc.pid] = None
        while self.exits[proc.pid] is None and proc.folder.owner is not None:
            self._answer()
        status = self.exits.pop(proc.pid)
        return None if status is None or status < 0 else status

    def _launch(self, group: _Group) -> None:
        """Hand the group's calls not yet given out to a spare process."""
        proc = self._spare()
        proc.plan, group.todo = group.todo, []
        try:
            _wire.send_all(proc.cmd, _wire.encode(proc.plan))
            _wire.send_all(proc.cmd, memoryview(group.body)[:group.size])
        except OSError:
            pass  # it died before reading: seen as a crash of its first call
        os.close(proc.cmd)
        proc.cmd = -1
        proc.watched, proc.since = proc.plan[0], _monotonic()
        group.proc = proc

    def _deadline(self, group: _Group) -> float:
        proc = group.proc
        return proc.since + group.timeouts[proc.watched] + self.grace

    def _step(self, group: _Group, readable: bool) -> None:
        """Take what the group's process wrote, or act on its deadline; end the process when it is done,
        retired or failed."""
        proc = group.proc
        failure = None
        finished = closed = False
        if readable:
            data = os.read(proc.results, 1 << 20)
            if not data:  # the process ended (or closed its pipe) before answering every call
                status = self._close(proc, wait=True)
                code = None if status is None else os.waitstatus_to_exitcode(status)
                closed = True
                reported = _child.PROGRESS.unpack_from(proc.progress, 0)[0] - 1
                culprit = reported if reported in proc.plan[proc.got:] else proc.plan[proc.got]
                failure = (culprit, "crashed", "the sandbox could not confine the call's process"
                           if code == _child.LOCKDOWN_FAILED else
                           f"the tool crashed its sandbox process ({_describe(code)})")
            else:
                proc.frames.feed(data)
                for frame in proc.frames.frames():
                    if not _wire.valid_results(frame, _wire.CHILD_STATUSES, 4) \
                            or len(frame) > len(proc.plan) - proc.got:
                        proc.frames.bad = True
                        break
                    for status, output, seconds, retire in frame:
                        group.results[proc.plan[proc.got]] = [status, _call.finish(output, self.text_limit),
                                                              float(seconds), None]
                        proc.got += 1
                        if retire:
                            break
                    if retire or proc.got == len(proc.plan):
                        finished = True
                        break
                    proc.watched, proc.since = proc.plan[proc.got], _monotonic()
                if proc.frames.bad and not finished:
                    failure = (proc.plan[proc.got], "crashed", "the tool wrote into the sandbox's result channel")
        elif _monotonic() >= self._deadline(group):
            # Past the deadline of the call we thought was running. If the process reports another call of
            # its plan, that one started later: its own deadline counts (from the start it reports, never
            # earlier than we last looked nor later than now).
            reported, started = _child.PROGRESS.unpack_from(proc.progress, 0)
            reported -= 1
            if reported != proc.watched and reported in proc.plan[proc.got:]:
                proc.watched, proc.since = reported, min(max(started, proc.since), _monotonic())
                return
            failure = (proc.watched, "timeout", f"the tool timed out after {group.timeouts[proc.watched]:g} seconds")
        if failure is None and not finished:
            return
        rest = proc.plan[proc.got:]
        if not closed:
            self._close(proc)
        group.proc = None
        if failure is not None:
            culprit, status, detail = failure
            group.results[culprit] = [status, "", group.timeouts[culprit] if status == "timeout" else 0.0, detail]
            rest.remove(culprit)
        group.todo = rest

    def _forward(self) -> None:
        """Answer the pool in order: the first group's answers as soon as a prefix is complete."""
        while self.groups:
            group = self.groups[0]
            end = group.sent
            while end < len(group.results) and group.results[end] is not None:
                end += 1
            if end > group.sent:
                _wire.send_all(self.out_fd, b"".join(_wire.encode(group.results[i:min(i + _wire.BATCH, end)])
                                                     for i in range(group.sent, end, _wire.BATCH)))
                group.sent = end
            if not group.done():
                return
            self.groups.popleft()
            self.buffers.append(group.body)

    def _read_group(self) -> bool:
        """The next group from the pool: its header, then its two frames (the calls and sources, the sources
        compiled) copied unread into a fork-proof buffer. False at the end."""
        try:
            header = _wire.read_frame(self.cmd_fd)
            if header.get("op") != "run":
                return False
            body = self.buffers.pop() if self.buffers else _buffer(1 << 16)
            size = 0
            for _ in range(2):
                prefix = _wire.read_exact(self.cmd_fd, 4)
                end = size + 4 + _wire.HEADER.unpack(prefix)[0]
                if end > len(body):
                    bigger = _buffer(1 << (end - 1).bit_length())
                    bigger[:size] = body[:size]
                    body.close()
                    body = bigger
                body[size:size + 4] = prefix
                view, got = memoryview(body), size + 4
                try:
                    while got < end:
                        n = os.readv(self.cmd_fd, [view[got:end]])
                        if not n:
                            raise EOFError
                        got += n
                finally:
                    view.release()
                size = end
        except EOFError:
            return False
        self.groups.append(_Group(header["timeouts"], body, size))
        return True

    def serve(self) -> None:
        """The worker's loop, until the pool says stop or goes away (or the template does)."""
        template = self.template.fileno()
        while True:
            for group in self.groups:
                if group.proc is None and group.todo:
                    self._launch(group)
            self._fork_spares()
            running = [g for g in self.groups if g.proc is not None]
            inputs = [g.proc.results for g in running]
            if self.template.waiting:
                inputs.append(template)
            if len(self.groups) < self.concurrency:
                inputs.append(self.cmd_fd)
            timeout = max(0.0, min(self._deadline(g) for g in running) - _monotonic()) if running else None
            ready = set(select.select(inputs, [], [], timeout)[0])
            if template in ready:
                self._answer()
            for group in running:
                self._step(group, group.proc.results in ready)
            self._forward()
            if self.cmd_fd in ready and not self._read_group():
                return

    # ---- start-up ------------------------------------------------------------------------------------
    def confine(self, config: dict) -> dict:
        layers: dict[str, str] = {}
        confine = config.get("confine", True)
        if confine:
            layers["disk quota"] = _confine.private_tmpfs([f.path for f in self.folders], config["disk_mb"])
        os.chdir(self.root)  # again: the folders may now be tmpfs mounts
        for f in self.folders:
            f.clean_mtime = os.stat(f.path).st_mtime_ns
        layers["rlimits"] = _confine.apply_rlimits(config["memory_mb"], config["disk_mb"], config["open_files"])
        call_filter = None
        if confine:
            read = _confine.default_read_paths()
            own, layers["landlock"] = _confine.landlock_ruleset(read, [self.root])
            if own is not None:
                for f in self.folders:  # prepared now: a call process only has to enforce its folder's
                    f.landlock_fd, _ = _confine.landlock_ruleset(read, [f.path])
                ok = _confine.no_new_privs() and _confine.landlock_enforce(own) and None not in \
                    [f.landlock_fd for f in self.folders]
                os.close(own)
                if not ok:
                    layers["landlock"] = "failed (restrict_self)"
                    for f in self.folders:
                        if f.landlock_fd is not None:
                            os.close(f.landlock_fd)
                        f.landlock_fd = None
            layers["capabilities"] = _confine.drop_capabilities()
            call_filter, layers["seccomp"] = _confine.seccomp_worker()
            if call_filter is None:
                layers["nproc"] = "no new processes in call processes" if os.geteuid() else "not enforced for root"
            # inherited by every call process, armed there; the worker needs none of what it refuses
            layers["audit"] = _confine.install_audit_hook(self.root) + " (in each call process)"
            _confine.patch_python()
        layers["processes"] = (f"one per environment, forked by a clean template, killed after its calls; up to "
                               f"{self.concurrency} at once")
        self.lockdown = _child.Lockdown(os.getpid(), call_filter, audit=confine, nproc=confine and call_filter is None,
                                        max_fd=config["open_files"] + 1)
        return layers

    def self_test(self) -> str | None:
        """Run a harmless tool in a call process: it must confine itself and answer. ``None`` if it did."""
        compiled = marshal.dumps({"k": None})
        body = _wire.encode({"code": {"k": "def probe():\n    return 'ready'"}, "calls": [["probe", "k", {}, 5.0, 5.0, "module"]]}) \
            + _wire.HEADER.pack(len(compiled)) + compiled
        buf = _buffer(1 << 16)
        buf[:len(body)] = body
        group = _Group([5.0], buf, len(body))
        self._launch(group)
        while group.proc is not None:
            ready = select.select([group.proc.results], [], [], max(0.0, self._deadline(group) - _monotonic()))[0]
            self._step(group, bool(ready))
        self.buffers.append(buf)
        answer = group.results[0]
        if answer is None or answer[:2] != ["ok", "ready"]:
            return (answer[3] or answer[1]) if answer else "no answer"
        return None


def _buffer(size: int) -> mmap.mmap:
    """Memory that a fork does not copy into the child."""
    buf = mmap.mmap(-1, size)
    buf.madvise(mmap.MADV_DONTFORK)
    return buf


def _describe(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


def main() -> None:
    config = json.loads(sys.argv[1])
    debug = bool(config.get("debug"))
    # Move the protocol off fds 0/1 (nothing may print into it); 0/1/2 become /dev/null.
    cmd_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    if not debug:
        os.dup2(devnull, 2)
    os.close(devnull)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the pool's business
    signal.signal(signal.SIGALRM, _child.on_timer)
    signal.signal(signal.SIGPROF, _child.on_timer)
    if not _confine.die_with_parent(int(config["parent"])):
        return
    worker = Worker(config, cmd_fd, out_fd)
    layers = worker.confine(config)
    worker.start_template()
    try:
        problem = worker.self_test()
    except EOFError as exc:
        problem = str(exc)
    if problem is not None:
        layers["self-test"] = f"failed: {problem}"
    _wire.send_all(out_fd, _wire.encode({"op": "ready", "layers": layers, "pid": os.getpid(), "ok": problem is None}))
    if problem is None:
        try:
            worker.serve()
        except EOFError:
            pass  # the template is gone: the pool replaces this worker


if __name__ == "__main__":
    main()
