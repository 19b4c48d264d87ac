"""millrun's built-in ``wmill``: the common calls of Windmill's Python client
(https://pypi.org/project/wmill/) against millrun's Windmill-shaped API.

millrun puts this module at the end of a Python job's path, so it is used
only when Windmill's own ``wmill`` package cannot be had (no package index,
an offline laptop); where it is installed, that one wins. It needs nothing
but the standard library. Each function has the signature and return value
of Windmill's; a name it does not have raises an error that says how to get
Windmill's package.
"""

import atexit
import datetime as dt
import json
import logging
import os
import random
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Optional, Union

try:
    from typing import Literal

    JobStatus = Literal["RUNNING", "WAITING", "COMPLETED"]
except ImportError:  # Python < 3.8
    JobStatus = str

# One line in the job's log says which wmill the job used.
sys.stderr.write("wmill: millrun's built-in module (Windmill's wmill package is not installed)\n")

BUILTIN = True  # Windmill's package has no such name: a script can tell the two apart

logger = logging.getLogger("windmill_client")

_REQUEST_TIMEOUT = 120  # seconds; every call is short, waits poll

__all__ = [
    "Windmill",
    "JobStatus",
    "cancel_job",
    "get_job",
    "get_job_status",
    "get_resource",
    "get_result",
    "get_resume_urls",
    "get_root_job_id",
    "get_state",
    "get_state_path",
    "get_variable",
    "get_version",
    "get_workspace",
    "run_flow_async",
    "run_script",
    "run_script_async",
    "run_script_by_hash",
    "run_script_by_hash_async",
    "run_script_by_path",
    "run_script_by_path_async",
    "run_script_by_path_sync",
    "run_script_sync",
    "set_resource",
    "set_state",
    "set_variable",
    "wait_job",
    "whoami",
]


class NotInBuiltinError(NotImplementedError):
    """A name Windmill's wmill has and millrun's built-in module does not.

    Not an AttributeError: ``from wmill import x`` would replace the message
    with a bare "cannot import name".
    """


def __getattr__(name):
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError(name)
    raise NotInBuiltinError(
        "wmill.%s is not in millrun's built-in wmill module, which stands in for Windmill's "
        "only with its common calls. To use it, install Windmill's package: let millrun lock "
        "wmill as a requirement while a package index is reachable, or pip install wmill." % name
    )


class Response:
    """What ``Windmill.get``/``post`` return: the parts of httpx's Response
    that scripts read."""

    def __init__(self, url, status_code, content):
        self.url = url
        self.status_code = status_code
        self.content = content

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)

    def raise_for_status(self):
        if self.status_code >= 400:
            raise Exception("%s: %d, %s" % (self.url, self.status_code, self.text))
        return self


class Windmill:
    def __init__(self, base_url=None, token=None, workspace=None, verify=True):
        base = base_url or os.environ.get("BASE_INTERNAL_URL") or os.environ.get("WM_BASE_URL")
        if not base:
            raise Exception(
                "wmill: no server to call: BASE_INTERNAL_URL and WM_BASE_URL are not set "
                "(millrun sets them in its jobs; outside one, pass base_url)"
            )
        self.base_url = "%s/api" % base.rstrip("/")
        self.token = token or os.environ.get("WM_TOKEN")
        self.headers = {
            "Content-Type": "application/json",
            "Authorization": "Bearer %s" % self.token,
        }
        self.verify = verify
        self.workspace = workspace or os.environ.get("WM_WORKSPACE")
        self.path = os.environ.get("WM_JOB_PATH")
        assert self.workspace, "workspace required as an argument or as WM_WORKSPACE environment variable"
        handlers = [urllib.request.ProxyHandler({})]  # the API is local: never through a proxy
        if not verify:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            handlers.append(urllib.request.HTTPSHandler(context=ctx))
        self._opener = urllib.request.build_opener(*handlers)

    # HTTP

    def _request(self, method, endpoint, raise_for_status=True, params=None, body=None):
        url = "%s/%s" % (self.base_url, endpoint.lstrip("/"))
        if params:
            query = {k: v for k, v in params.items() if v is not None}
            if query:
                url += "?" + urllib.parse.urlencode(query)
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
        elif method == "POST":
            data = b""
        req = urllib.request.Request(url, data=data, method=method, headers=self.headers)
        try:
            with self._opener.open(req, timeout=_REQUEST_TIMEOUT) as r:
                resp = Response(url, r.status, r.read())
        except urllib.error.HTTPError as e:
            resp = Response(url, e.code, e.read())
        except urllib.error.URLError as e:
            raise Exception("%s: cannot reach the server: %s" % (url, e.reason)) from None
        if raise_for_status and resp.status_code >= 400:
            error = "%s: %d, %s" % (url, resp.status_code, resp.text)
            logger.error(error)
            raise Exception(error)
        return resp

    def get(self, endpoint, raise_for_status=True, **kwargs) -> Response:
        return self._request("GET", endpoint, raise_for_status, kwargs.get("params"))

    def post(self, endpoint, raise_for_status=True, **kwargs) -> Response:
        return self._request("POST", endpoint, raise_for_status, kwargs.get("params"), kwargs.get("json"))

    def _w(self, rest):
        return "/w/%s/%s" % (self.workspace, rest)

    # Jobs

    def run_script_async(self, path=None, hash_=None, args=None, scheduled_in_secs=None) -> str:
        """Create a script job and return its job id."""
        assert not (path and hash_), "path and hash_ are mutually exclusive"
        args = args or {}
        params = {"scheduled_in_secs": scheduled_in_secs} if scheduled_in_secs else {}
        if os.environ.get("WM_JOB_ID"):
            params["parent_job"] = os.environ.get("WM_JOB_ID")
        if os.environ.get("WM_ROOT_FLOW_JOB_ID"):
            params["root_job"] = os.environ.get("WM_ROOT_FLOW_JOB_ID")
        if path:
            endpoint = self._w("jobs/run/p/%s" % _quote(path))
        elif hash_:
            endpoint = self._w("jobs/run/h/%s" % _quote(hash_))
        else:
            raise Exception("path or hash_ must be provided")
        return self.post(endpoint, json=args, params=params).text

    def run_script_by_path_async(self, path, args=None, scheduled_in_secs=None) -> str:
        return self.run_script_async(path=path, args=args, scheduled_in_secs=scheduled_in_secs)

    def run_script_by_hash_async(self, hash_, args=None, scheduled_in_secs=None) -> str:
        return self.run_script_async(hash_=hash_, args=args, scheduled_in_secs=scheduled_in_secs)

    def run_flow_async(self, path, args=None, scheduled_in_secs=None, do_not_track_in_parent=True) -> str:
        """Create a flow job and return its job id."""
        args = args or {}
        params = {"scheduled_in_secs": scheduled_in_secs} if scheduled_in_secs else {}
        if not do_not_track_in_parent:
            if os.environ.get("WM_JOB_ID"):
                params["parent_job"] = os.environ.get("WM_JOB_ID")
            if os.environ.get("WM_ROOT_FLOW_JOB_ID"):
                params["root_job"] = os.environ.get("WM_ROOT_FLOW_JOB_ID")
        if not path:
            raise Exception("path must be provided")
        return self.post(self._w("jobs/run/f/%s" % _quote(path)), json=args, params=params).text

    def run_script(self, path=None, hash_=None, args=None, timeout=None, verbose=False, cleanup=True,
                   assert_result_is_not_none=False) -> Any:
        """Run a script synchronously and return its result."""
        args = args or {}
        if verbose:
            logger.info("running `%s` synchronously with args = %r", path or hash_, args)
        job_id = self.run_script_async(path=path, hash_=hash_, args=args)
        return self.wait_job(job_id, timeout, verbose, cleanup, assert_result_is_not_none)

    def run_script_by_path(self, path, args=None, timeout=None, verbose=False, cleanup=True,
                           assert_result_is_not_none=False) -> Any:
        return self.run_script(path=path, args=args, timeout=timeout, verbose=verbose, cleanup=cleanup,
                               assert_result_is_not_none=assert_result_is_not_none)

    def run_script_by_hash(self, hash_, args=None, timeout=None, verbose=False, cleanup=True,
                           assert_result_is_not_none=False) -> Any:
        return self.run_script(hash_=hash_, args=args, timeout=timeout, verbose=verbose, cleanup=cleanup,
                               assert_result_is_not_none=assert_result_is_not_none)

    def wait_job(self, job_id, timeout=None, verbose=False, cleanup=True, assert_result_is_not_none=False):
        """Wait for a job to complete and return its result; raise if it failed."""

        def cancel():
            logger.warning("cancelling job: %s", job_id)
            try:
                self.post(self._w("jobs_u/queue/cancel/%s" % job_id), json={"reason": "parent script cancelled"})
            except Exception:  # noqa: BLE001 - the process is exiting anyway
                pass

        if cleanup:
            atexit.register(cancel)
        if isinstance(timeout, dt.timedelta):
            timeout = timeout.total_seconds()
        start = time.time()
        while True:
            res = self.get(self._w("jobs_u/completed/get_result_maybe/%s" % job_id)).json()
            if not res.get("started") and verbose:
                logger.info("job %s has not started yet", job_id)
            if res.get("completed"):
                if cleanup:
                    atexit.unregister(cancel)
                result = res.get("result")
                if res.get("success"):
                    if result is None and assert_result_is_not_none:
                        raise Exception("Result was none")
                    return result
                error = result.get("error") if isinstance(result, dict) else result
                raise Exception("Job %s was not successful: %s" % (job_id, error))
            if timeout and time.time() - start > timeout:
                msg = "reached timeout"
                logger.warning(msg)
                self.post(self._w("jobs_u/queue/cancel/%s" % job_id), json={"reason": msg})
                if cleanup:
                    atexit.unregister(cancel)
                raise TimeoutError(msg)
            if verbose:
                logger.info("sleeping 0.5 seconds for job_id = %s", job_id)
            time.sleep(0.5)

    def cancel_job(self, job_id, reason=None) -> str:
        return self.post(self._w("jobs_u/queue/cancel/%s" % job_id), json={"reason": reason or "cancelled via wmill"}).text

    def get_job(self, job_id) -> dict:
        return self.get(self._w("jobs_u/get/%s" % job_id)).json()

    def get_root_job_id(self, job_id=None) -> str:
        job_id = job_id or os.environ.get("WM_JOB_ID")
        return self.get(self._w("jobs_u/get_root_job_id/%s" % job_id)).json()

    def get_job_status(self, job_id) -> JobStatus:
        job = self.get_job(job_id)
        job_type = job.get("type", "")
        assert job_type, "%s is not a valid job" % job
        if job_type.lower() == "completedjob":
            return "COMPLETED"
        running = job.get("running", job.get("additional_properties", {}).get("running"))
        if running is None:
            raise Exception("%s is not running" % job_id)
        return "RUNNING" if running else "WAITING"

    def get_result(self, job_id, assert_result_is_not_none=True) -> Any:
        result = self.get(self._w("jobs_u/completed/get_result/%s" % job_id))
        try:
            return result.json()
        except ValueError:
            return result.text

    # Variables, resources, state

    def get_variable(self, path) -> str:
        return self.get(self._w("variables/get_value/%s" % _quote(path))).json()

    def set_variable(self, path, value, is_secret=False) -> None:
        r = self.get(self._w("variables/get/%s" % _quote(path)), raise_for_status=False)
        if r.status_code == 404:
            self.post(self._w("variables/create"),
                      json={"path": path, "value": value, "is_secret": is_secret, "description": ""})
        else:
            self.post(self._w("variables/update/%s" % _quote(path)), json={"value": value})

    def get_resource(self, path, none_if_undefined=False) -> Optional[Any]:
        try:
            return self.get(self._w("resources/get_value_interpolated/%s" % _quote(path))).json()
        except Exception as e:
            if none_if_undefined:
                return None
            raise e

    def set_resource(self, value, path, resource_type):
        r = self.get(self._w("resources/get/%s" % _quote(path)), raise_for_status=False)
        if r.status_code == 404:
            self.post(self._w("resources/create"), json={"path": path, "value": value, "resource_type": resource_type})
        else:
            self.post(self._w("resources/update_value/%s" % _quote(path)), json={"value": value})

    @property
    def state_path(self) -> str:
        state_path = os.environ.get("WM_STATE_PATH_NEW", os.environ.get("WM_STATE_PATH"))
        if state_path is None:
            raise Exception("State path not found")
        return state_path

    @property
    def state(self) -> Any:
        return self.get_resource(path=self.state_path, none_if_undefined=True)

    @state.setter
    def state(self, value) -> None:
        self.set_state(value)

    def set_state(self, value):
        self.set_resource(value, path=self.state_path, resource_type="state")

    # Approvals

    def get_resume_urls(self, approver: str = None, flow_level: bool = None) -> dict:
        """The links that answer this step's approval: {approvalPage, resume, cancel}."""
        nonce = random.randint(0, 1000000000)
        job_id = os.environ.get("WM_JOB_ID") or "NO_ID"
        params = {"approver": approver}
        if flow_level is not None:
            params["flow_level"] = "true" if flow_level else "false"
        return self.get(self._w("jobs/resume_urls/%s/%d" % (job_id, nonce)), params=params).json()

    # Who and where

    def whoami(self) -> dict:
        return self.get("/users/whoami").json()

    @property
    def user(self) -> dict:
        return self.whoami()

    @property
    def version(self):
        return self.get("version").text


_client = None


def _quote(s):
    return urllib.parse.quote(str(s), safe="/")


def _c() -> Windmill:
    global _client
    if _client is None:
        _client = Windmill()
    return _client


def get_workspace() -> str:
    return _c().workspace


def get_root_job_id(job_id: Optional[str] = None) -> str:
    return _c().get_root_job_id(job_id)


def get_version() -> str:
    return _c().version


def run_script_async(hash_or_path: str, args: Dict[str, Any] = None, scheduled_in_secs: int = None) -> str:
    is_path = "/" in hash_or_path
    return _c().run_script_async(
        path=hash_or_path if is_path else None,
        hash_=None if is_path else hash_or_path,
        args=args,
        scheduled_in_secs=scheduled_in_secs,
    )


def run_flow_async(path: str, args: Dict[str, Any] = None, scheduled_in_secs: int = None,
                   do_not_track_in_parent: bool = True) -> str:
    return _c().run_flow_async(path, args, scheduled_in_secs, do_not_track_in_parent)


def run_script_sync(hash: str, args: Dict[str, Any] = None, verbose: bool = False,
                    assert_result_is_not_none: bool = True, cleanup: bool = True, timeout: dt.timedelta = None) -> Any:
    return _c().run_script(hash_=hash, args=args, verbose=verbose, assert_result_is_not_none=assert_result_is_not_none,
                           cleanup=cleanup, timeout=timeout)


def run_script_by_path_async(path: str, args: Dict[str, Any] = None,
                             scheduled_in_secs: Union[None, int] = None) -> str:
    return _c().run_script_async(path=path, args=args, scheduled_in_secs=scheduled_in_secs)


def run_script_by_hash_async(hash_: str, args: Dict[str, Any] = None,
                             scheduled_in_secs: Union[None, int] = None) -> str:
    return _c().run_script_async(hash_=hash_, args=args, scheduled_in_secs=scheduled_in_secs)


def run_script_by_path_sync(path: str, args: Dict[str, Any] = None, verbose: bool = False,
                            assert_result_is_not_none: bool = True, cleanup: bool = True,
                            timeout: dt.timedelta = None) -> Any:
    return _c().run_script(path=path, args=args, verbose=verbose, assert_result_is_not_none=assert_result_is_not_none,
                           cleanup=cleanup, timeout=timeout)


def run_script(path: str = None, hash_: str = None, args: dict = None,
               timeout: Union[dt.timedelta, int, float] = None, verbose: bool = False, cleanup: bool = True,
               assert_result_is_not_none: bool = True) -> Any:
    """Run a script synchronously and return its result."""
    return _c().run_script(path=path, hash_=hash_, args=args, timeout=timeout, verbose=verbose, cleanup=cleanup,
                           assert_result_is_not_none=assert_result_is_not_none)


def run_script_by_path(path: str, args: dict = None, timeout: Union[dt.timedelta, int, float] = None,
                       verbose: bool = False, cleanup: bool = True, assert_result_is_not_none: bool = True) -> Any:
    """Run a script by path synchronously and return its result."""
    return _c().run_script(path=path, args=args, timeout=timeout, verbose=verbose, cleanup=cleanup,
                           assert_result_is_not_none=assert_result_is_not_none)


def run_script_by_hash(hash_: str, args: dict = None, timeout: Union[dt.timedelta, int, float] = None,
                       verbose: bool = False, cleanup: bool = True, assert_result_is_not_none: bool = True) -> Any:
    """Run a script by hash synchronously and return its result."""
    return _c().run_script(hash_=hash_, args=args, timeout=timeout, verbose=verbose, cleanup=cleanup,
                           assert_result_is_not_none=assert_result_is_not_none)


def wait_job(job_id, timeout=None, verbose: bool = False, cleanup: bool = True,
             assert_result_is_not_none: bool = False) -> Any:
    return _c().wait_job(job_id, timeout, verbose, cleanup, assert_result_is_not_none)


def cancel_job(job_id: str, reason: str = None) -> str:
    return _c().cancel_job(job_id, reason)


def get_job(job_id: str) -> dict:
    return _c().get_job(job_id)


def get_job_status(job_id: str) -> JobStatus:
    return _c().get_job_status(job_id)


def get_result(job_id: str, assert_result_is_not_none=True) -> Any:
    return _c().get_result(job_id=job_id, assert_result_is_not_none=assert_result_is_not_none)


def whoami() -> dict:
    """Returns the current user"""
    return _c().user


def get_state() -> Any:
    """Get the state"""
    return _c().state


def get_resource(path: str, none_if_undefined: bool = False) -> Optional[Any]:
    """Get resource from Windmill"""
    return _c().get_resource(path, none_if_undefined)


def set_resource(path: str, value: Any, resource_type: str = "any") -> None:
    """Set the resource at a given path, creating it if it does not exist"""
    return _c().set_resource(value=value, path=path, resource_type=resource_type)


def set_state(value: Any) -> None:
    """Set the state"""
    return _c().set_state(value)


def get_variable(path: str) -> str:
    """Returns the variable at a given path as a string"""
    return _c().get_variable(path)


def set_variable(path: str, value: str, is_secret: bool = False) -> None:
    """Set the variable at a given path as a string, creating it if it does not exist"""
    return _c().set_variable(path, value, is_secret)


def get_state_path() -> str:
    return _c().state_path


def get_resume_urls(approver: str = None) -> dict:
    """Get URLs needed for resuming a flow after this step"""
    return _c().get_resume_urls(approver)
