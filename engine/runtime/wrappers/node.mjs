// millrun's Node wrapper: imports the type-stripped script, calls main with
// the job's arguments in signature order, and writes the result (or the
// error) where the runner reads it.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const out = process.env.MILLRUN_OUT;
const write = (name, value) => writeFileSync(join(out, name), JSON.stringify(value === undefined ? null : value));
const { args, order } = JSON.parse(readFileSync(join(out, "args.json"), "utf8"));

try {
  const mod = await import(pathToFileURL(join(process.cwd(), process.env.MILLRUN_MAIN)).href);
  if (typeof mod.main !== "function") throw new Error("the script does not export a main function");
  const result = await mod.main(...order.map((k) => args[k]));
  write("result.json", result);
  // Open handles (timers, sockets) must not keep a finished job alive.
  process.exit(0);
} catch (e) {
  const err = e instanceof Error ? e : new Error(String(e));
  console.error(err.stack || String(err));
  write("error.json", { name: err.name || "Error", message: err.message, stack: err.stack || "" });
  process.exit(1);
}
