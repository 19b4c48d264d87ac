# millrun's warm Python worker: imports main.py once, then runs one job per
# line read from fd 3, answering on fd 4. stdout and stderr stay the job's
# logs; after each job both get an end marker so the runner can tell where
# one job's output ends and the next one's begins.
import json
import os
import sys

_jobs = os.fdopen(3, "r", encoding="utf-8")
_answers = os.fdopen(4, "w", encoding="utf-8")
_marker = "\x1emillrun-job-end "


def _answer(value):
    _answers.write(json.dumps(value, default=str) + "\n")
    _answers.flush()


def _error(e):
    import traceback

    tb = traceback.format_exc()
    sys.stderr.write(tb)
    return {"name": type(e).__name__, "message": str(e), "stack": tb}


def _accepted(fn):
    code = getattr(fn, "__code__", None)
    if code is None or code.co_flags & 0x08:
        return None
    return set(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])


def _end(job_id):
    sys.stdout.flush()
    sys.stderr.flush()
    sys.stdout.write(_marker + job_id + "\n")
    sys.stderr.write(_marker + job_id + "\n")
    sys.stdout.flush()
    sys.stderr.flush()


sys.path.insert(0, os.getcwd())
try:
    if os.environ.get("MILLRUN_MODULE"):
        # `from .x import y`: main is a module of its folder's package.
        import importlib

        _mod = importlib.import_module(os.environ["MILLRUN_MODULE"])
    else:
        import main as _mod

    _names = _accepted(_mod.main)
    _answer({"ready": True})
except BaseException as e:  # noqa: B036 - a broken script must be reported, not hang
    _answer({"ready": False, "error": _error(e)})
    sys.stderr.flush()
    os._exit(1)

for _line in _jobs:
    _job = json.loads(_line)
    os.environ.update(_job.get("env") or {})
    _args = _job["args"]
    if _names is not None:
        _args = {k: v for k, v in _args.items() if k in _names}
    try:
        _result = _mod.main(**_args)
        if hasattr(_result, "__await__"):
            import asyncio

            _result = asyncio.run(_result)
        _end(_job["id"])
        _answer({"id": _job["id"], "ok": True, "result": _result})
    except BaseException as e:  # noqa: B036
        _err = _error(e)
        _end(_job["id"])
        _answer({"id": _job["id"], "ok": False, "error": _err})
