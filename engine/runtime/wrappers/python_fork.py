# millrun's Python fork server: one interpreter, started once with the
# wrapper's imports done, forks a child per cold job. The child takes the
# job's output pipe, folder and environment, then runs the ordinary wrapper,
# which imports main.py fresh: nothing of one job's modules reaches another.
# The server has no folder: it runs from -c (with the wrapper's source as
# its argument), so no folder of its is on any job's module path.
#
# It talks only over the socket millrun gave it as fd 3 (a socketpair, so
# nothing else can reach it: its jobs, its children, could reopen a pipe
# through /proc/$PPID/fd, but not a socket; its signal wake-up channel is a
# socketpair too, and its stdin, stdout and stderr are /dev/null). Each message is a 4-byte big-endian length
# and a JSON object. millrun sends {"cwd", "env"} with two descriptors (the
# job's stdin and its output); the server answers {"taken"} before it forks
# (so a server that dies without that answer started nothing), {"pid"} once
# forked, and {"exit", "code"} when that child ends (code < 0: killed by
# that signal).
import sys

if sys.path and sys.path[0] == "":  # -c puts the working folder first
    del sys.path[0]

import json
import os
import select
import signal
import socket
import struct

sys.dont_write_bytecode = True  # as PYTHONDONTWRITEBYTECODE in a spawned job
_sock = socket.socket(fileno=3)
_code = compile(sys.argv[1], "wrapper.py", "exec")

# The job's marker (MILLRUN_JOB_KEY) shows in /proc/<pid>/environ, which is
# the block the process started with, not os.environ: a process the job
# forked without an exec and that made a session of its own is then known
# as the job's while the job runs (a sweep kills it once the job ended,
# marker or not). The server starts with a placeholder there, rewritten in
# place in each child.
_slot = None
try:
    import ctypes

    _libc = ctypes.CDLL(None)
    _environ = ctypes.POINTER(ctypes.c_char_p).in_dll(_libc, "environ")
    i = 0
    while _environ[i] is not None:
        if _environ[i].startswith(b"MILLRUN_JOB_SLOT="):
            _slot = (ctypes.cast(_environ, ctypes.POINTER(ctypes.c_void_p))[i], len(_environ[i]))
            break
        i += 1
except Exception:  # no ctypes: jobs still run; only exec'd children carry the marker
    _slot = None


def _send(obj):
    b = json.dumps(obj).encode()
    _sock.sendall(struct.pack(">I", len(b)) + b)


def _recv():
    got = []
    head = b""
    while len(head) < 4:
        chunk, fds, _, _ = socket.recv_fds(_sock, 4 - len(head), 4)
        if not chunk:
            sys.exit(0)  # millrun is gone
        head += chunk
        if fds:
            got = fds
    n = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < n:
        chunk = _sock.recv(n - len(body))
        if not chunk:
            sys.exit(0)
        body += chunk
    return json.loads(body), got


def _child(req, fds):
    os.setsid()  # its own session and process group: killed as one
    os.dup2(fds[0], 0)
    os.dup2(fds[1], 1)
    os.dup2(fds[1], 2)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    _sock.close()
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _wake_r.close()
    _wake_w.close()
    env = dict(kv.split("=", 1) for kv in req["env"])
    if _slot is not None:
        marker = next((kv for kv in req["env"] if kv.startswith("MILLRUN_JOB_KEY=")), "").encode()
        addr, size = _slot
        if marker and len(marker) <= size:
            ctypes.memmove(addr, marker + b"\0" * (size - len(marker)), size)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(req["cwd"])
    # As a spawned interpreter starts: the script's folder, then the
    # job's PYTHONPATH (its packages, the scripts it imports, wmill); the
    # wrapper as __main__.
    sys.path[0:0] = [os.getcwd()] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.argv = ["wrapper.py"]
    main = type(sys)("__main__")
    sys.modules["__main__"] = main
    try:
        exec(_code, main.__dict__)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
        if not isinstance(e.code, (int, type(None))):
            print(e.code, file=sys.stderr)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    _finish(code)


def _finish(code):
    """Ends the job as a spawned interpreter ends: its threads joined, its
    atexit functions run, its output flushed; but without tearing every
    module down, which costs more than a small job's whole run."""
    threading = sys.modules.get("threading")
    if threading is not None:
        for t in threading.enumerate():
            if t is not threading.main_thread() and not t.daemon:
                t.join()
    import atexit

    atexit._run_exitfuncs()
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
    os._exit(code & 0xFF)


_wake_r, _wake_w = socket.socketpair()
_wake_w.setblocking(False)
signal.set_wakeup_fd(_wake_w.fileno())
signal.signal(signal.SIGCHLD, lambda *_: None)
_send({"ready": True})
while True:
    try:
        ready, _, _ = select.select([_sock, _wake_r], [], [])
    except InterruptedError:
        continue
    if _wake_r in ready:
        _wake_r.recv(512)
    while True:  # reap every child that ended
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        _send({"exit": pid, "code": os.waitstatus_to_exitcode(status)})
    if _sock in ready:
        req, fds = _recv()
        _send({"taken": True})
        pid = os.fork()
        if pid == 0:
            _child(req, fds)
        for fd in fds:
            os.close(fd)
        _send({"pid": pid})
