# millrun's Python wrapper: imports main.py, calls main with the job's
# arguments by name, and writes the result (or the error) where the runner
# reads it. Kept dependency-free so any python3 can run it.
import importlib.util
import inspect
import json
import os
import sys
import traceback


def _write(name, value):
    with open(os.path.join(os.environ["MILLRUN_OUT"], name), "w") as f:
        json.dump(value, f, default=str)


def _run():
    sys.path.insert(0, os.getcwd())
    with open(os.path.join(os.environ["MILLRUN_OUT"], "args.json")) as f:
        args = json.load(f)
    try:
        spec = importlib.util.spec_from_file_location("main", os.path.join(os.getcwd(), "main.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules["main"] = mod
        spec.loader.exec_module(mod)
        params = inspect.signature(mod.main).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            # Webhooks add extra args (headers, raw_string); Windmill passes
            # main only the ones it declares.
            args = {k: v for k, v in args.items() if k in params}
        result = mod.main(**args)
        if inspect.iscoroutine(result):
            import asyncio
            result = asyncio.run(result)
    except BaseException as e:  # noqa: B036 - every failure must reach the job record
        sys.stdout.flush()
        tb = traceback.format_exc()
        sys.stderr.write(tb)
        _write("error.json", {"name": type(e).__name__, "message": str(e), "stack": tb})
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    _write("result.json", result)


_run()
