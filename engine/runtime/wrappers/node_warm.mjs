// millrun's warm Node worker: imports the script once, then runs one job per
// line read from fd 3, answering on fd 4. stdout and stderr stay the job's
// logs; after each job both get an end marker so the runner can tell where
// one job's output ends and the next one's begins.
import { createReadStream, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const marker = "\x1emillrun-job-end ";
const answer = (v) => writeSync(4, JSON.stringify(v, (_k, x) => (x === undefined ? null : x)) + "\n");
const errorOf = (e) => {
  const err = e instanceof Error ? e : new Error(String(e));
  console.error(err.stack || String(err));
  return { name: err.name || "Error", message: err.message, stack: err.stack || "" };
};
// Writes to pipes are asynchronous in Node: wait for both streams to drain
// before the marker, so no output of this job lands after it.
const drain = (s) => new Promise((resolve) => s.write("", resolve));
const end = async (id) => {
  await Promise.all([drain(process.stdout), drain(process.stderr)]);
  await Promise.all([
    new Promise((r) => process.stdout.write(marker + id + "\n", r)),
    new Promise((r) => process.stderr.write(marker + id + "\n", r)),
  ]);
};

let mod;
try {
  mod = await import(pathToFileURL(join(process.cwd(), process.env.MILLRUN_MAIN)).href);
  if (typeof mod.main !== "function") throw new Error("the script does not export a main function");
  answer({ ready: true });
} catch (e) {
  answer({ ready: false, error: errorOf(e) });
  await drain(process.stderr);
  process.exit(1);
}

const lines = createInterface({ input: createReadStream(null, { fd: 3 }) });
for await (const line of lines) {
  const job = JSON.parse(line);
  Object.assign(process.env, job.env || {});
  try {
    const result = await mod.main(...job.order.map((k) => job.args[k]));
    await end(job.id);
    answer({ id: job.id, ok: true, result: result === undefined ? null : result });
  } catch (e) {
    const error = errorOf(e);
    await end(job.id);
    answer({ id: job.id, ok: false, error });
  }
}
process.exit(0);
