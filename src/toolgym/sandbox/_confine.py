"""Confinement of a sandbox worker process, applied once at start-up before any tool code runs.

Layers, strongest first; each is applied when the machine supports it and reported either way:

* **Landlock** (Linux >= 5.13, unprivileged): the file system becomes read-only except the worker's own
  temporary folder, and only the Python installation and system libraries are readable (so
  ``/proc/<parent>/environ``, home folders and ``/etc`` secrets are not); TCP bind/connect are denied
  (ABI >= 4); signals to processes outside the sandbox are denied (ABI >= 6).
* **seccomp** (through ``libseccomp``): no sockets, no ``fork``/``vfork``/process ``clone`` (threads
  stay allowed), no ``exec``, no ``kill`` of other processes, no ``ptrace``, no raising rlimits, no
  ``io_uring``, no namespaces or mounts.
* **rlimits**: address space (memory), file size, open files, core dumps; a parent-death signal.
* **capabilities** dropped when running as root.
* **Python audit hook** and patches: the same policy at the Python level (sockets, subprocesses,
  ``ctypes``, writes outside the folder, ``/proc`` of other processes), with clear error messages, plus
  ``os._exit`` and signal handling disabled. This is the only layer on machines without the others.

Standard library only: this module is imported by the worker as a top-level module.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import resource
import signal
import sys

# ---------------------------------------------------------------------------------------------------
# rlimits and parent death
# ---------------------------------------------------------------------------------------------------


def apply_rlimits(memory_mb: int, file_mb: int, open_files: int) -> str:
    def _set(which: int, value: int) -> None:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))

    _set(resource.RLIMIT_AS, memory_mb * 1024 * 1024)
    _set(resource.RLIMIT_FSIZE, file_mb * 1024 * 1024)
    _set(resource.RLIMIT_NOFILE, open_files)
    _set(resource.RLIMIT_CORE, 0)
    # A write past RLIMIT_FSIZE must fail with EFBIG, not kill the worker with SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return f"memory {memory_mb} MB, files {file_mb} MB, {open_files} open files"


def limit_processes() -> str:
    """Without seccomp, RLIMIT_NPROC is the fork-bomb guard (ignored by the kernel for root)."""
    if os.geteuid() == 0:
        return "not enforced for root"
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    return "no new processes"


_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
        _libc.prctl.restype = ctypes.c_int
    return _libc


PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38


def die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        _lib().prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def no_new_privs() -> bool:
    return sys.platform.startswith("linux") and _lib().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0


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
    if not sys.platform.startswith("linux") or os.uname().machine not in ("x86_64", "aarch64"):
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


def landlock_restrict(read_paths: list[str], write_paths: list[str]) -> str:
    """Allow reading ``read_paths`` and everything in ``write_paths``; deny the rest of the file system,
    TCP and signals to outside processes where the kernel's Landlock ABI supports it."""
    abi = landlock_abi()
    if abi <= 0:
        return "unavailable (kernel without Landlock)"
    libc = _lib()
    handled = _fs_rights(abi)
    attr = _RulesetAttr(handled, _LL_NET_ALL if abi >= 4 else 0,
                        (_LL_SCOPE_ABSTRACT_UNIX | _LL_SCOPE_SIGNAL) if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    fd = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        return f"unavailable (create_ruleset: {os.strerror(ctypes.get_errno())})"
    try:
        read_rights = _LL_EXECUTE | _LL_READ_FILE | _LL_READ_DIR
        rules = [(p, read_rights) for p in read_paths] + [(p, handled) for p in write_paths]
        for path, rights in rules:
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
                    return f"failed (add_rule {path}: {os.strerror(ctypes.get_errno())})"
            finally:
                os.close(pfd)
        if not no_new_privs():
            return "failed (no_new_privs)"
        if libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(fd), ctypes.c_uint32(0)) < 0:
            return f"failed (restrict_self: {os.strerror(ctypes.get_errno())})"
    finally:
        os.close(fd)
    extras = ["fs"] + (["tcp"] if abi >= 4 else []) + (["signals"] if abi >= 6 else [])
    return f"ABI {abi} ({', '.join(extras)})"


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
_SCMP_CMP_NE, _SCMP_CMP_MASKED_EQ = 1, 7
_CLONE_THREAD = 0x00010000


def _act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


_DENY = (
    "socket", "socketpair", "fork", "vfork", "execve", "execveat", "ptrace", "process_vm_readv",
    "process_vm_writev", "mount", "umount2", "pivot_root", "chroot", "setns", "unshare", "reboot",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
    "perf_event_open", "keyctl", "add_key", "request_key", "setrlimit", "userfaultfd", "personality",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "tkill", "rt_sigqueueinfo",
    "rt_tgsigqueueinfo", "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "acct", "swapon", "swapoff",
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
)


def seccomp_restrict() -> str:
    path = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(path, use_errno=True)
    except OSError:
        return "unavailable (libseccomp not installed)"
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not ctx:
        return "failed (seccomp_init)"
    try:
        def rule(action: int, name: str, *cmps: _ArgCmp) -> None:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                return  # syscall does not exist on this architecture
            array = (_ArgCmp * len(cmps))(*cmps) if cmps else None
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), array)
            if rc < 0:
                raise OSError(-rc, f"seccomp rule for {name}")

        eperm = _act_errno(errno.EPERM)
        for name in _DENY:
            rule(eperm, name)
        # clone3 hides its flags in a struct: report "not implemented" so libc falls back to clone(2),
        # where the flags are visible and only thread creation (CLONE_THREAD) is let through.
        rule(_act_errno(errno.ENOSYS), "clone3")
        rule(eperm, "clone", _ArgCmp(0, _SCMP_CMP_MASKED_EQ, _CLONE_THREAD, 0))
        me = os.getpid()
        rule(eperm, "kill", _ArgCmp(0, _SCMP_CMP_NE, me, 0))
        rule(eperm, "tgkill", _ArgCmp(0, _SCMP_CMP_NE, me, 0))
        rule(eperm, "prlimit64", _ArgCmp(2, _SCMP_CMP_NE, 0, 0))  # reading limits is fine, setting is not
        if not no_new_privs():
            return "failed (no_new_privs)"
        rc = lib.seccomp_load(ctx)
        if rc < 0:
            return f"failed (seccomp_load: {os.strerror(-rc)})"
    except OSError as exc:
        return f"failed ({exc})"
    finally:
        lib.seccomp_release(ctx)
    return "on"


# ---------------------------------------------------------------------------------------------------
# capabilities
# ---------------------------------------------------------------------------------------------------


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> str:
    if os.geteuid() != 0:
        return "none held"
    libc = _lib()
    capset = getattr(libc, "capset", None)
    if capset is None:
        return "unavailable"
    header = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    if capset(ctypes.byref(header), data) != 0:
        return f"failed ({os.strerror(ctypes.get_errno())})"
    return "dropped"


# ---------------------------------------------------------------------------------------------------
# Python level: audit hook and patches
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


def install_audit_hook(folder: str) -> str:
    folder = os.path.realpath(folder)
    prefix = folder + os.sep
    me = os.getpid()
    realpath, abspath, fspath = os.path.realpath, os.path.abspath, os.fsdecode

    def inside(path) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor: it was checked when it was opened
        try:
            p = realpath(fspath(path))
        except (TypeError, ValueError):
            return False
        return p == folder or p.startswith(prefix)

    def deny(what: str, detail: str = "") -> None:
        raise PermissionError(f"sandbox: {what} is not allowed in tools" + (f" ({detail})" if detail else ""))

    def hook(event: str, args: tuple) -> None:
        reason = _DENIED_EVENTS.get(event)
        if reason is not None:
            deny(reason, event)
        if event == "open":
            path, mode, flags = args
            if path is None or isinstance(path, int):
                return
            writes = (flags & _WRITE_FLAGS) if isinstance(flags, int) and flags >= 0 else 0
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
        positions = _PATH_EVENTS.get(event)
        if positions is not None:
            for i in positions:
                if i < len(args) and not inside(args[i]):
                    deny("changing files outside the tool's folder", f"{event} {args[i]!r}")
            return
        if event == "os.kill":
            if args[0] != me:
                deny("signalling other processes", event)

    sys.addaudithook(hook)
    return "on"


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
