// millrun's built-in windmill-client: what a script gets for
// `import * as wmill from "windmill-client"` when the real package is not
// in its lock or cannot be installed (offline, nothing cached). It calls
// millrun's API the way windmill-client does (same routes, same
// environment: BASE_INTERNAL_URL, WM_TOKEN, WM_WORKSPACE, WM_JOB_ID,
// WM_STATE_PATH_NEW). Calls it lacks throw, naming themselves.

const env = (k) => (typeof process !== "undefined" ? process.env[k] : undefined);
let base;
let token;

export function setClient(tok, baseUrl) {
  base = (baseUrl ?? env("BASE_INTERNAL_URL") ?? env("BASE_URL") ?? "http://localhost:8000") + "/api";
  token = tok ?? env("WM_TOKEN") ?? "no_token";
}

export function getWorkspace() {
  return env("WM_WORKSPACE") ?? "no_workspace";
}

class ApiError extends Error {
  constructor(status, body, what) {
    super(`${what}: ${status} ${body}`);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

async function call(method, route, body, query) {
  if (base === undefined) setClient();
  const url = new URL(base + route);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  const res = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new ApiError(res.status, text, `${method} ${route}`);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const ws = () => `/w/${getWorkspace()}`;
const stripRes = (p) => (p?.startsWith("$res:") ? p.slice(5) : p?.startsWith("res://") ? p.slice(6) : p);
const stripVar = (p) => (p?.startsWith("var://") ? p.slice(6) : p);

export function getStatePath() {
  const p = env("WM_STATE_PATH_NEW") ?? env("WM_STATE_PATH");
  if (p === undefined) throw Error("State path not set");
  return p;
}

export async function getVariable(path) {
  path = stripVar(path);
  try {
    return await call("GET", `${ws()}/variables/get_value/${path}`);
  } catch (e) {
    throw Error(`Variable not found at ${path} or not visible to you: ${e.body ?? e.message}`);
  }
}

export async function setVariable(path, value, isSecretIfNotExist, descriptionIfNotExist) {
  path = stripVar(path);
  if (await call("GET", `${ws()}/variables/exists/${path}`)) {
    await call("POST", `${ws()}/variables/update/${path}`, { value });
  } else {
    await call("POST", `${ws()}/variables/create`, { path, value, is_secret: isSecretIfNotExist ?? false, description: descriptionIfNotExist ?? "" });
  }
}

export async function getResource(path, undefinedIfEmpty) {
  path = stripRes(path) ?? getStatePath();
  try {
    return await call("GET", `${ws()}/resources/get_value_interpolated/${path}`);
  } catch (e) {
    if (undefinedIfEmpty && e.status === 404) return undefined;
    throw Error(`Resource not found at ${path} or not visible to you: ${e.body ?? e.message}`);
  }
}

export async function setResource(value, path, initializeToTypeIfNotExist) {
  path = stripRes(path) ?? getStatePath();
  if (await call("GET", `${ws()}/resources/exists/${path}`)) {
    await call("POST", `${ws()}/resources/update_value/${path}`, { value });
  } else if (initializeToTypeIfNotExist) {
    await call("POST", `${ws()}/resources/create`, { path, value, resource_type: initializeToTypeIfNotExist });
  } else {
    throw Error(`Resource at path ${path} does not exist and no type was provided to initialize it`);
  }
}

export async function resolveDefaultResource(obj) {
  return typeof obj === "string" && obj.startsWith("$res:") ? await getResource(obj.substring(5), true) : obj;
}

export async function getState(path) {
  return await getResource(path ?? getStatePath(), true);
}

export async function setState(state, path) {
  await setResource(state, path ?? getStatePath(), "state");
}

export async function getInternalState() {
  return await getResource(getStatePath(), true);
}

export async function setInternalState(state) {
  await setResource(state, undefined, "state");
}

async function runAsync(path, hash, args, scheduledInSeconds, tag) {
  const query = { scheduled_in_secs: scheduledInSeconds || undefined, tag: tag || undefined, parent_job: env("WM_JOB_ID"), root_job: env("WM_ROOT_FLOW_JOB_ID") };
  let route;
  if (path) route = `${ws()}/jobs/run/p/${path}`;
  else if (hash) route = `${ws()}/jobs/run/h/${hash}`;
  else throw new Error("path or hash_ must be provided");
  return String(await call("POST", route, args || {}, query));
}

export async function runScriptAsync(path, hash_, args, scheduledInSeconds = null, tag = null) {
  if (path && hash_) throw new Error("path and hash_ are mutually exclusive");
  return runAsync(path, hash_, args, scheduledInSeconds, tag);
}
export const runScriptByPathAsync = (path, args = null, scheduledInSeconds = null, tag = null) => runAsync(path, null, args, scheduledInSeconds, tag);
export const runScriptByHashAsync = (hash_, args = null, scheduledInSeconds = null, tag = null) => runAsync(null, hash_, args, scheduledInSeconds, tag);

export async function runScript(path = null, hash_ = null, args = null, verbose = false, tag = null) {
  if (path && hash_) throw new Error("path and hash_ are mutually exclusive");
  return waitJob(await runAsync(path, hash_, args, null, tag), verbose);
}
export const runScriptByPath = async (path, args = null, verbose = false, tag = null) => waitJob(await runAsync(path, null, args, null, tag), verbose);
export const runScriptByHash = async (hash_, args = null, verbose = false, tag = null) => waitJob(await runAsync(null, hash_, args, null, tag), verbose);

export async function getResultMaybe(jobId) {
  return await call("GET", `${ws()}/jobs_u/completed/get_result_maybe/${jobId}`);
}

export async function waitJob(jobId, verbose = false) {
  for (;;) {
    const r = await getResultMaybe(jobId);
    if (r.completed) {
      if (r.success) return r.result;
      throw new Error(`Job ${jobId} was not successful: ${JSON.stringify(r.result?.error)}`);
    }
    if (verbose) console.info(`sleeping 0.5 seconds for jobId: ${jobId}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export async function getResult(jobId) {
  return await call("GET", `${ws()}/jobs_u/completed/get_result/${jobId}`);
}

export async function getRootJobId(jobId) {
  jobId = jobId ?? env("WM_JOB_ID");
  if (jobId === undefined) throw Error("Job ID not set");
  return await call("GET", `${ws()}/jobs_u/get_root_job_id/${jobId}`);
}

export async function cancelJob(jobId, reason) {
  return await call("POST", `${ws()}/jobs_u/queue/cancel/${jobId}`, { reason: reason ?? "cancelled via cancelJob method" });
}

export async function whoami() {
  return await call("GET", `${ws()}/users/whoami`);
}

export async function getResumeUrls(approver, flowLevel) {
  const nonce = Math.floor(Math.random() * 4294967295);
  return await call("GET", `${ws()}/jobs/resume_urls/${env("WM_JOB_ID") ?? "NO_JOB_ID"}/${nonce}`, undefined, { approver, flow_level: flowLevel });
}

export function getResumeEndpoints(approver) {
  return getResumeUrls(approver);
}

// The rest of windmill-client's functions: present so that a script
// using one fails saying which, instead of "is not a function".
const missing = (name) =>
  function () {
    throw new Error(
      `windmill-client's ${name} is not in millrun's built-in windmill-client, which scripts get when the real package is not in their lock or cannot be installed; it has getVariable, setVariable, getResource, setResource, getState, setState, getStatePath, runScript, runScriptByPath, runScriptAsync, waitJob, getResult, getRootJobId, getResumeUrls, getWorkspace and whoami`,
    );
  };
export const appendToResultStream = missing("appendToResultStream");
export const base64ToUint8Array = missing("base64ToUint8Array");
export const commitKafkaOffsets = missing("commitKafkaOffsets");
export const databaseUrlFromResource = missing("databaseUrlFromResource");
export const datatable = missing("datatable");
export const deleteS3File = missing("deleteS3File");
export const denoS3LightClientSettings = missing("denoS3LightClientSettings");
export const ducklake = missing("ducklake");
export const getApprovalUrls = missing("getApprovalUrls");
export const getFlowUserState = missing("getFlowUserState");
export const getIdToken = missing("getIdToken");
export const getPresignedS3PublicUrl = missing("getPresignedS3PublicUrl");
export const getPresignedS3PublicUrls = missing("getPresignedS3PublicUrls");
export const getProgress = missing("getProgress");
export const loadS3File = missing("loadS3File");
export const loadS3FileStream = missing("loadS3FileStream");
export const parallel = missing("parallel");
export const requestInteractiveSlackApproval = missing("requestInteractiveSlackApproval");
export const requestInteractiveTeamsApproval = missing("requestInteractiveTeamsApproval");
export const runFlow = missing("runFlow");
export const runFlowAsync = missing("runFlowAsync");
export const setFlowUserState = missing("setFlowUserState");
export const setProgress = missing("setProgress");
export const signS3Object = missing("signS3Object");
export const signS3Objects = missing("signS3Objects");
export const sleep = missing("sleep");
export const step = missing("step");
export const streamResult = missing("streamResult");
export const task = missing("task");
export const taskFlow = missing("taskFlow");
export const taskScript = missing("taskScript");
export const uint8ArrayToBase64 = missing("uint8ArrayToBase64");
export const usernameToEmail = missing("usernameToEmail");
export const waitForApproval = missing("waitForApproval");
export const workflow = missing("workflow");
export const writeS3File = missing("writeS3File");

export default {
  setClient, getWorkspace, getStatePath, getVariable, setVariable, getResource, setResource, resolveDefaultResource,
  getState, setState, getInternalState, setInternalState, runScriptAsync, runScriptByPathAsync, runScriptByHashAsync,
  runScript, runScriptByPath, runScriptByHash, getResultMaybe, waitJob, getResult, getRootJobId, cancelJob, whoami,
  appendToResultStream, databaseUrlFromResource, getFlowUserState, getIdToken, getProgress, getResumeUrls, getResumeEndpoints, loadS3File,
  runFlow, runFlowAsync, setFlowUserState, setProgress, task, writeS3File,
};
