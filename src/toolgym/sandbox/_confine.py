"""Confinement of the sandbox's processes: the worker (applied once at start-up) and each call process
forked from it (applied right after the fork, before any tool code runs).

Layers, strongest first; each is applied when the machine supports it and reported either way:

* **Landlock** (Linux >= 5.13, unprivileged): the file system becomes read-only except the worker's own
  folder, and only the Python installation and system libraries are readable (so
  ``/proc/<parent>/environ``, home folders and ``/etc`` secrets are not); TCP bind/connect are denied
  (ABI >= 4). Every call process adds a layer of its own, so with ABI >= 6 it cannot signal any process
  outside it: not its worker, not the pool, not another call.
* **seccomp** (through ``libseccomp``): the worker may not open sockets, ``exec``, ``ptrace``, raise its
  limits, use ``io_uring``, namespaces or mounts. A call process additionally may not create processes
  (threads stay allowed), send signals, or clear its parent-death signal. The kernel enforces both
  filters; no code in the process can remove them.
* **rlimits**: address space (memory), file size, open files, core dumps.
* **private tmpfs** (a mount namespace of the worker's own): the folder is a memory file system of
  ``disk_mb``, so everything a call writes together -- not only each file -- is capped.
* **parent-death signal**: the worker dies with the pool's process, a call process with its worker.
* **capabilities** dropped.
* **Python audit hook** and patches, in each call process: the same policy at the Python level with clear
  error messages. Its tables live in the hook's closure, not in a module a tool can reach; it is a
  convenience on machines with the kernel layers, and the only layer on machines without them.

Standard library only: this module is imported by the worker as a top-level module.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 1, 38, 22
SECCOMP_MODE_FILTER = 2

_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
        _libc.prctl.restype = ctypes.c_int
        _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    return _libc


def _linux() -> bool:
    return sys.platform.startswith("linux")


def _errno_text() -> str:
    return os.strerror(ctypes.get_errno())

# ---------------------------------------------------------------------------------------------------
# rlimits, the parent-death signal, no_new_privs
# ---------------------------------------------------------------------------------------------------


def apply_rlimits(memory_mb: int, disk_mb: int, open_files: int) -> str:
    def _set(which: int, value: int) -> None:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))

    _set(resource.RLIMIT_AS, memory_mb * 1024 * 1024)
    _set(resource.RLIMIT_FSIZE, disk_mb * 1024 * 1024)
    _set(resource.RLIMIT_NOFILE, open_files)
    _set(resource.RLIMIT_CORE, 0)
    # A write past RLIMIT_FSIZE must fail with EFBIG, not kill the process with SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return f"memory {memory_mb} MB, file size {disk_mb} MB, {open_files} open files"


def limit_processes() -> str:
    """Without seccomp, RLIMIT_NPROC is the fork-bomb guard of a call process (ignored for root)."""
    if os.geteuid() == 0:
        return "not enforced for root"
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    return "no new processes"


def die_with_parent(parent: int) -> bool:
    """SIGKILL when the parent ends. False if the parent is already gone (the signal would never come)."""
    if _linux():
        _lib().prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    return os.getppid() == parent


def no_new_privs() -> bool:
    return _linux() and _lib().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system (glibc), so a fork has fewer to map."""
    trim = getattr(_lib(), "malloc_trim", None) if _linux() else None
    if trim is not None:
        trim(0)

# ---------------------------------------------------------------------------------------------------
# A private tmpfs for the folder: a quota on everything written, not only on each file
# ---------------------------------------------------------------------------------------------------


_CLONE_NEWNS, _CLONE_NEWUSER = 0x00020000, 0x10000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REC, _MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18


def _write_file(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def private_tmpfs(folders: list[str], disk_mb: int) -> str:
    """Mount a tmpfs of ``disk_mb`` over each of ``folders`` in a mount namespace of this process's own (a
    user namespace first when not root), so each folder's total size is capped and the mounts disappear
    with the process. Call before Landlock and seccomp; the caller must ``chdir`` into a folder again."""
    if not _linux():
        return "unavailable (not Linux)"
    libc = _lib()
    uid, gid = os.geteuid(), os.getegid()
    flags = _CLONE_NEWNS if uid == 0 else _CLONE_NEWNS | _CLONE_NEWUSER
    if libc.unshare(flags) != 0:
        return f"unavailable (unshare: {_errno_text()})"
    try:
        if uid != 0:  # keep our own ids inside the new user namespace
            _write_file("/proc/self/setgroups", "deny")
            _write_file("/proc/self/uid_map", f"{uid} {uid} 1")
            _write_file("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError as exc:
        return f"unavailable (user namespace: {exc.strerror})"
    if libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        return f"unavailable (private mounts: {_errno_text()})"
    options = f"size={disk_mb}m,nr_inodes=4096,mode=0700".encode()
    for folder in folders:
        if libc.mount(b"tmpfs", os.fsencode(folder), b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, options) != 0:
            return f"unavailable (mount: {_errno_text()})"
    return f"{disk_mb} MB per call, all files together"

# ---------------------------------------------------------------------------------------------------
# Landlock
# ---------------------------------------------------------------------------------------------------


_SYS_LANDLOCK_CREATE_RULESET, _SYS_LANDLOCK_ADD_RULE, _SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LL_EXECUTE, _LL_WRITE_FILE, _LL_READ_FILE, _LL_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_LL_TRUNCATE, _LL_IOCTL_DEV = 1 << 14, 1 << 15
_LL_FILE_RIGHTS = _LL_EXECUTE | _LL_WRITE_FILE | _LL_READ_FILE | _LL_TRUNCATE | _LL_IOCTL_DEV
_LL_SCOPE_ABSTRACT_UNIX, _LL_SCOPE_SIGNAL = 1 << 0, 1 << 1
_LL_NET_ALL = (1 << 0) | (1 << 1)  # bind_tcp | connect_tcp


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    if not _linux() or os.uname().machine not in ("x86_64", "aarch64"):
        return 0
    abi = _lib().syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(int(abi), 0)


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if abi >= 2:
        rights |= 1 << 13  # refer
    if abi >= 3:
        rights |= _LL_TRUNCATE
    if abi >= 5:
        rights |= _LL_IOCTL_DEV
    return rights


def landlock_ruleset(read_paths: list[str], write_paths: list[str]) -> tuple[int | None, str]:
    """A ruleset allowing reads of ``read_paths`` and everything in ``write_paths``, denying the rest of
    the file system, TCP, and (ABI >= 6) signals and abstract sockets outside the domain. Returns its file
    descriptor (``None`` if Landlock is unavailable) and a description. Enforce it with
    :func:`landlock_enforce`, once per process that must be confined (each time a new, nested layer)."""
    abi = landlock_abi()
    if abi <= 0:
        return None, "unavailable (kernel without Landlock)"
    libc = _lib()
    handled = _fs_rights(abi)
    attr = _RulesetAttr(handled, _LL_NET_ALL if abi >= 4 else 0,
                        (_LL_SCOPE_ABSTRACT_UNIX | _LL_SCOPE_SIGNAL) if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    fd = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        return None, f"unavailable (create_ruleset: {_errno_text()})"
    read_rights = _LL_EXECUTE | _LL_READ_FILE | _LL_READ_DIR
    for path, rights in [(p, read_rights) for p in read_paths] + [(p, handled) for p in write_paths]:
        try:
            pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            if not os.path.isdir(path):
                rights &= _LL_FILE_RIGHTS
            rule = _PathBeneath(rights & handled, pfd)
            if libc.syscall(_SYS_LANDLOCK_ADD_RULE, ctypes.c_int(fd), ctypes.c_int(1), ctypes.byref(rule),
                            ctypes.c_uint32(0)) < 0:
                os.close(fd)
                return None, f"failed (add_rule {path}: {_errno_text()})"
        finally:
            os.close(pfd)
    extras = ["fs"] + (["tcp"] if abi >= 4 else []) + (["signals"] if abi >= 6 else [])
    return fd, f"ABI {abi} ({', '.join(extras)})"


def landlock_enforce(fd: int) -> bool:
    """Add the ruleset ``fd`` as a new layer on this process (needs no_new_privs, set by the caller)."""
    return _lib().syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(fd), ctypes.c_uint32(0)) == 0


def default_read_paths() -> list[str]:
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.update(p for p in sys.path if p and os.path.isdir(p))
    paths.update(["/usr", "/lib", "/lib64", "/lib32", "/bin", "/etc/localtime", "/etc/ld.so.cache",
                  "/dev/null", "/dev/urandom", "/dev/zero"])
    return sorted(p for p in paths if os.path.exists(p))

# ---------------------------------------------------------------------------------------------------
# seccomp (libseccomp through ctypes)
# ---------------------------------------------------------------------------------------------------


_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_CMP_NE, _SCMP_CMP_EQ, _SCMP_CMP_MASKED_EQ = 1, 4, 7
_CLONE_THREAD = 0x00010000


def _act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


# the worker (which runs no tool code) and, inherited, every call process
_DENY_WORKER = (
    "socket", "socketpair", "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "mount",
    "umount2", "pivot_root", "chroot", "setns", "unshare", "reboot", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "bpf", "perf_event_open", "keyctl", "add_key", "request_key",
    "setrlimit", "userfaultfd", "personality", "io_uring_setup", "io_uring_enter", "io_uring_register", "acct",
    "swapon", "swapoff", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "open_tree", "move_mount", "fsopen", "fsmount", "fspick", "mount_setattr",
)
# added for a call process: no new processes, no signals to anyone (its own timers are kernel-sent)
_DENY_CALL = ("fork", "vfork", "kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_open",
              "pidfd_send_signal", "pidfd_getfd", "process_madvise")


def _seccomp_lib():
    # Loaded by its soname, not through ctypes.util.find_library: that imports subprocess and threading,
    # whose fork handlers would then run in every call process (several hundred microseconds each).
    for path in ("libseccomp.so.2", "libseccomp.so"):
        try:
            lib = ctypes.CDLL(path, use_errno=True)
            break
        except OSError:
            continue
    else:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def _build(lib, call: bool):
    """A libseccomp context holding the worker's filter, or (``call``) the extra filter of a call process."""
    ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not ctx:
        raise OSError(errno.ENOMEM, "seccomp_init")

    def rule(action: int, name: str, *cmps: _ArgCmp) -> None:
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:
            return  # the syscall does not exist on this architecture
        array = (_ArgCmp * len(cmps))(*cmps) if cmps else None
        rc = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), array)
        if rc < 0:
            lib.seccomp_release(ctx)
            raise OSError(-rc, f"seccomp rule for {name}")

    eperm = _act_errno(errno.EPERM)
    # clone3 hides its flags in a struct: report "not implemented" so libc falls back to clone(2), where
    # the flags are visible.
    rule(_act_errno(errno.ENOSYS), "clone3")
    if not call:
        for name in _DENY_WORKER:
            rule(eperm, name)
        rule(eperm, "prlimit64", _ArgCmp(2, _SCMP_CMP_NE, 0, 0))  # reading limits is fine, setting is not
        return ctx
    for name in _DENY_CALL:
        rule(eperm, name)
    rule(eperm, "clone", _ArgCmp(0, _SCMP_CMP_MASKED_EQ, _CLONE_THREAD, 0))  # only threads
    rule(eperm, "prctl", _ArgCmp(0, _SCMP_CMP_EQ, PR_SET_PDEATHSIG, 0))  # the signal stays set
    return ctx


class CallFilter:
    """The call processes' seccomp program, compiled once in the worker and installed after each fork
    with one ``prctl`` (no allocation, no library call in the child)."""

    def __init__(self, program: bytes):
        self._buffer = ctypes.create_string_buffer(program, len(program))
        self._fprog = _SockFprog(len(program) // 8, ctypes.addressof(self._buffer))

    def install(self) -> bool:
        return _lib().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(self._fprog), 0, 0) == 0


def seccomp_worker() -> tuple[CallFilter | None, str]:
    """Load the worker's filter and compile the call processes' one. Returns the latter (``None`` when
    seccomp is unavailable) and a description."""
    lib = _seccomp_lib()
    if lib is None:
        return None, "unavailable (libseccomp not installed)"
    if not no_new_privs():
        return None, "failed (no_new_privs)"
    try:
        call_ctx = _build(lib, call=True)
        r, w = os.pipe()
        try:
            rc = lib.seccomp_export_bpf(call_ctx, w)
            os.close(w)
            w = -1
            program = b""
            while chunk := os.read(r, 65536):
                program += chunk
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)
            lib.seccomp_release(call_ctx)
        if rc < 0 or not program or len(program) % 8:
            return None, f"failed (export: {os.strerror(-rc) if rc < 0 else 'empty program'})"
        ctx = _build(lib, call=False)
        try:
            rc = lib.seccomp_load(ctx)
        finally:
            lib.seccomp_release(ctx)
        if rc < 0:
            return None, f"failed (seccomp_load: {os.strerror(-rc)})"
    except OSError as exc:
        return None, f"failed ({exc})"
    return CallFilter(program), "on"

# ---------------------------------------------------------------------------------------------------
# capabilities
# ---------------------------------------------------------------------------------------------------


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> str:
    """Drop every capability: root's, or those a user namespace grants."""
    if not _linux():
        return "unavailable"
    capset = getattr(_lib(), "capset", None)
    if capset is None:
        return "unavailable"
    header = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    if capset(ctypes.byref(header), data) != 0:
        return f"failed ({_errno_text()})"
    return "dropped"

# ---------------------------------------------------------------------------------------------------
# Python level: audit hook and patches (in call processes)
# ---------------------------------------------------------------------------------------------------


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_DENIED_EVENTS = {
    "socket.__new__": "network access", "socket.bind": "network access", "socket.connect": "network access",
    "socket.getaddrinfo": "network access", "socket.gethostbyname": "network access",
    "socket.gethostbyaddr": "network access", "socket.getnameinfo": "network access",
    "socket.sendto": "network access", "socket.sendmsg": "network access",
    "subprocess.Popen": "starting processes", "os.system": "starting processes", "os.exec": "starting processes",
    "os.posix_spawn": "starting processes", "os.spawn": "starting processes", "os.fork": "starting processes",
    "os.forkpty": "starting processes", "pty.spawn": "starting processes",
    "os.killpg": "signalling other processes",
    "ctypes.dlopen": "ctypes", "ctypes.dlsym": "ctypes", "ctypes.dlsym/handle": "ctypes",
    "ctypes.call_function": "ctypes", "ctypes.cdata": "ctypes", "ctypes.cdata/buffer": "ctypes",
    "ctypes.addressof": "ctypes", "ctypes.string_at": "ctypes", "ctypes.wstring_at": "ctypes",
    "ctypes.PyObj_FromPtr": "ctypes",
    "resource.setrlimit": "changing resource limits", "resource.prlimit": "changing resource limits",
    "gc.get_objects": "inspecting the sandbox", "gc.get_referrers": "inspecting the sandbox",
    "gc.get_referents": "inspecting the sandbox", "os.symlink": "creating symlinks",
}
_PATH_EVENTS = {  # event -> positions of path arguments that must stay inside the folder
    "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.chmod": (0,), "os.chown": (0,),
    "os.truncate": (0,), "os.utime": (0,), "os.setxattr": (0,), "os.removexattr": (0,),
    "os.rename": (0, 1), "os.link": (0, 1), "os.chflags": (0,), "os.lchflags": (0,),
}


_ARM = "toolgym.sandbox.arm"


def install_audit_hook(root: str) -> str:
    """The Python-level policy, installed once in the worker and inherited by every call process. It stays
    inert (the worker and a call process's own confinement use ``ctypes``) until the process raises the
    audit event :data:`_ARM` -- done by each call process last thing before it reads its calls -- and from
    then on it applies, in that process, for good: nothing disarms it. Everything it consults lives in its
    closure, copied now: clearing or replacing this module's tables (directly, or by unpickling a reference
    to them) changes nothing, and an audit hook can be neither removed nor reached from Python code."""
    root = os.path.realpath(root)
    prefix = root + os.sep
    denied = dict(_DENIED_EVENTS)
    path_events = dict(_PATH_EVENTS)
    write_flags = _WRITE_FLAGS
    realpath, abspath, fspath, getpid = os.path.realpath, os.path.abspath, os.fsdecode, os.getpid
    armed: list[int] = []  # the pid of the process that armed it; empty while inert

    def inside(path) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor: it was checked when it was opened
        try:
            p = realpath(fspath(path))
        except (TypeError, ValueError):
            return False
        return p == root or p.startswith(prefix)

    def deny(what: str, detail: str = "") -> None:
        raise PermissionError(f"sandbox: {what} is not allowed in tools" + (f" ({detail})" if detail else ""))

    def hook(event: str, args: tuple) -> None:
        if not armed:
            if event == _ARM:
                armed.append(getpid())
            return
        reason = denied.get(event)
        if reason is not None:
            deny(reason, event)
        if event == "open":
            path, mode, flags = args
            if path is None or isinstance(path, int):
                return
            writes = (flags & write_flags) if isinstance(flags, int) and flags >= 0 else 0
            if mode and any(c in str(mode) for c in "wax+"):
                writes = 1
            if writes and not inside(path):
                deny("writing outside the tool's folder", fspath(path))
            if not writes:
                try:
                    p = abspath(fspath(path))
                except (TypeError, ValueError):
                    return
                if p.startswith("/proc/") and not p.startswith(("/proc/self/", "/proc/thread-self/")):
                    deny("reading other processes' /proc entries", p)
            return
        positions = path_events.get(event)
        if positions is not None:
            for i in positions:
                if i < len(args) and not inside(args[i]):
                    deny("changing files outside the tool's folder", f"{event} {args[i]!r}")
            return
        if event == "os.kill" and args[0] != armed[0]:
            deny("signalling other processes", event)

    sys.addaudithook(hook)
    return "on"


def arm_audit_hook() -> None:
    sys.audit(_ARM)


class _Sink:
    """Where a tool's prints go: counted and dropped (the tool's output is its return value)."""

    encoding = "utf-8"
    errors = "strict"

    def write(self, s) -> int:
        return len(s)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError("no file descriptor in the sandbox")


def patch_python() -> None:
    """Make the interpreter-level escape hatches fail with a clear message."""
    import _signal  # the C module behind ``signal``
    import io

    def refuse(what: str):
        def _refused(*_a, **_k):
            raise PermissionError(f"sandbox: {what} is not allowed in tools")
        return _refused

    os._exit = refuse("os._exit")
    import posix
    posix._exit = os._exit
    for mod in (signal, _signal):
        for name in ("signal", "setitimer", "alarm", "pthread_sigmask", "siginterrupt", "set_wakeup_fd",
                     "pthread_kill", "sigwait", "sigwaitinfo", "sigtimedwait", "raise_signal"):
            if hasattr(mod, name):
                setattr(mod, name, refuse(f"signal.{name}"))
    sys.stdin = io.StringIO("")
    sys.stdout = sys.stderr = sys.__stdout__ = sys.__stderr__ = _Sink()
