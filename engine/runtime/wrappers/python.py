# millrun's Python wrapper: imports main.py, calls main with the job's
# arguments by name, and writes the result (or the error) where the runner
# reads it. Interpreter start dominates a run, so the hot path imports only
# json; inspect and traceback alone would add ~15 ms to every job.
import json
import os
import sys

_out = os.environ["MILLRUN_OUT"]


def _write(name, value):
    with open(os.path.join(_out, name), "w") as f:
        json.dump(value, f, default=str)


def _accepted(fn):
    """The argument names main takes, or None when it takes **kwargs."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_flags & 0x08:
        return None
    return set(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])


def _run():
    with open(os.path.join(_out, "args.json")) as f:
        args = json.load(f)
    try:
        sys.path.insert(0, os.getcwd())
        # The job's packages, the workspace scripts it imports and wmill,
        # as PYTHONPATH gives them to a spawned interpreter (a forked one
        # started before they were known).
        extra = os.environ.get("PYTHONPATH")
        if extra:
            known = set(sys.path)
            sys.path[1:1] = [p for p in extra.split(os.pathsep) if p and p not in known]
        module = os.environ.get("MILLRUN_MODULE")
        if module:
            # `from .x import y`: main is a module of its folder's package.
            import importlib

            mod = importlib.import_module(module)
        else:
            import main as mod

        names = _accepted(mod.main)
        if names is not None:
            # Webhooks add extra args (headers, raw_string); Windmill passes
            # main only the ones it declares.
            args = {k: v for k, v in args.items() if k in names}
        result = mod.main(**args)
        if hasattr(result, "__await__"):
            import asyncio

            result = asyncio.run(result)
    except BaseException as e:  # noqa: B036 - every failure must reach the job record
        import traceback

        sys.stdout.flush()
        tb = traceback.format_exc()
        sys.stderr.write(tb)
        sys.stderr.flush()
        _write("error.json", {"name": type(e).__name__, "message": str(e), "stack": tb})
        os._exit(1)
    sys.stdout.flush()
    _write("result.json", result)


_run()
