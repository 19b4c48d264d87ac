import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import {
  allSteps, argRows, docOf, fieldOf, flowProblem, newBranch, newStep, optionsOf, saveBody, sameJSON, transformOf, transformsOf, withOptions,
  type FlowDoc, type FlowValue, type Step,
} from "./flows";
import { docFromText, docToText } from "./flowtext";

// A flow as `wmill sync push` sends it: every module type and option,
// nested, with fields the cards do not show (notes, mock, resume_form...).
const pushed = {
  summary: "every option",
  description: "from a Windmill workspace",
  tag: "flows",
  timeout: 600,
  ws_error_handler_muted: true,
  visible_to_runner_only: false,
  schema: { $schema: "https://json-schema.org/draft/2020-12/schema", type: "object", order: ["items"],
    properties: { items: { type: "array", description: "what to go over", default: [1, 2] } }, required: [] },
  value: {
    notes: [{ id: "n1", text: "a sticky note", position: { x: 1, y: 2 } }],
    concurrent_limit: 2, concurrency_time_window_s: 60, same_worker: false, priority: 3,
    early_return: "ack",
    preprocessor_module: { id: "preprocessor", value: { type: "rawscript", language: "python3", content: "def preprocessor(event):\n    return event\n", input_transforms: {} } },
    failure_module: { id: "failure", summary: "tell me", value: { type: "rawscript", language: "bash", content: "echo failed\n", input_transforms: { error: { type: "javascript", expr: "error" } }, lock: "" } },
    modules: [
      { id: "ack", summary: "answer Slack", value: { type: "rawscript", language: "python3", content: "def main(x=None):\n    return x\n", lock: "# py: 3.11\n", tag: "py",
        input_transforms: { x: { type: "javascript", expr: "flow_input.items" } }, concurrency_time_window_s: 0 },
        retry: { constant: { attempts: 0, seconds: 0 }, exponential: { attempts: 3, multiplier: 2, seconds: 5, random_factor: 10 }, retry_if: { expr: "true" } },
        timeout: { type: "static", value: 30 }, sleep: { type: "javascript", expr: "flow_input.pause" },
        skip_if: { expr: "flow_input.skip" }, stop_after_if: { expr: "result === 0", skip_if_stopped: true, error_message: "nothing" },
        continue_on_error: true, cache_ttl: 60, priority: 1, delete_after_use: false, mock: { enabled: false, return_value: 1 },
        suspend: { required_events: 2, timeout: 900, resume_form: { schema: { properties: {} } }, user_auth_required: true, hide_cancel: false } },
      { id: "each", value: { type: "forloopflow", iterator: { type: "javascript", expr: "flow_input.items" }, skip_failures: true, parallel: true, parallelism: { type: "static", value: 4 },
        modules: [{ id: "pick", value: { type: "branchone", branches: [
          { summary: "big", expr: "flow_input.iter.value > 1", modules: [{ id: "big", value: { type: "script", path: "u/me/big", input_transforms: {}, hash: null } }], parallel: false },
        ], default: [{ id: "small", value: { type: "identity" } }] } }] },
        stop_after_all_iters_if: { expr: "result.length > 9", skip_if_stopped: false } },
      { id: "both", value: { type: "branchall", parallel: true, branches: [
        { summary: "a", skip_failure: true, modules: [{ id: "inner", value: { type: "whileloopflow", skip_failures: false, modules: [{ id: "w", value: { type: "flow", path: "u/me/sub", input_transforms: {} } }] },
          stop_after_if: { expr: "result > 2", skip_if_stopped: false } }] },
        { summary: "b", skip_failure: false, modules: [{ id: "ai", value: { type: "aiagent", tools: [{ id: "t" }], input_transforms: {} } }] },
      ] } },
    ],
  },
};

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

describe("a flow pushed by wmill loses nothing in the editor", () => {
  const got = { ...clone(pushed), path: "u/me/every", hash: "abc", workspace_id: "local", edited_at: "now", edited_by: "millrun", archived: false, extra_perms: {} };
  it("opening and saving it sends back what was pushed", () => {
    const doc = docOf(got);
    expect(saveBody(doc, "u/me/every")).toEqual({ ...pushed, path: "u/me/every" });
  });
  it("leaves out a schema that is only the inferred one, and keeps any other", () => {
    const doc = docOf(got);
    expect(saveBody(doc, "u/me/every", clone(pushed.schema))).not.toHaveProperty("schema");
    expect(saveBody(doc, "u/me/every", { type: "object", properties: {} })).toHaveProperty("schema", pushed.schema);
  });
  it("reading every step's options and writing them back changes nothing", () => {
    const doc = docOf(clone(got));
    for (const s of allSteps(doc.value)) {
      const o = optionsOf(s);
      for (const key of Object.keys(o) as (keyof typeof o)[]) {
        expect(sameJSON(withOptions(s, { [key]: o[key] }), s), `${s.id}: ${key}`).toBe(true);
      }
    }
  });
  it("the JSON and YAML views give back the same document", () => {
    const doc = docOf(clone(got));
    for (const mode of ["json", "yaml"] as const) {
      const back = docFromText(docToText(doc, mode), mode);
      expect(back.ok && back.doc).toEqual(doc);
    }
    // YAML as wmill writes it reads as the same flow.
    expect(docFromText(stringify(pushed), "yaml")).toEqual({ ok: true, doc: pushed });
    expect(parse(docToText(doc, "yaml"))).toEqual(doc);
  });
  it("the steps are found at every depth", () => {
    expect(allSteps(docOf(got).value).map((s) => s.id)).toEqual(["ack", "each", "pick", "big", "small", "both", "inner", "w", "ai", "failure", "preprocessor"]);
  });
});

describe("step options", () => {
  const step = clone(pushed.value.modules[0]) as Step;
  it("reads Windmill's fields", () => {
    expect(optionsOf(step)).toMatchObject({
      retry: "exponential", attempts: "3", seconds: "5", multiplier: "2",
      timeout: { type: "static", text: "30" }, sleep: { type: "javascript", text: "flow_input.pause" },
      skipIf: "flow_input.skip", stopAfterIf: "result === 0", skipIfStopped: true, errorMessage: "nothing",
      continueOnError: true, cacheTtl: "60", approval: true, requiredEvents: "2", approvalTimeout: "900",
    });
    expect(optionsOf({ id: "a", value: { type: "identity" } })).toMatchObject({ retry: "none", timeout: { text: "" }, approval: false, continueOnError: false, cacheTtl: "" });
  });
  it("writes only the option changed, keeping the fields beside it", () => {
    const constant = withOptions(step, { retry: "constant", attempts: "2", seconds: "10" });
    expect(constant.retry).toEqual({ constant: { attempts: 2, seconds: 10 }, exponential: { attempts: 0, multiplier: 2, seconds: 5, random_factor: 10 }, retry_if: { expr: "true" } });
    expect({ ...constant, retry: step.retry }).toEqual(step);
    const approval = withOptions(step, { requiredEvents: "1" });
    expect(approval.suspend).toEqual({ ...step.suspend as object, required_events: 1 });
    const timeout = withOptions(step, { timeout: { name: "", type: "javascript", text: "flow_input.t" } });
    expect(timeout.timeout).toEqual({ type: "javascript", expr: "flow_input.t" });
  });
  it("clears an option emptied or unticked", () => {
    const cleared = withOptions(step, { retry: "none", timeout: { name: "", type: "static", text: "" }, sleep: { name: "", type: "static", text: "" }, skipIf: "", stopAfterIf: "",
      continueOnError: false, cacheTtl: "", approval: false });
    for (const k of ["retry", "timeout", "sleep", "skip_if", "stop_after_if", "continue_on_error", "cache_ttl", "suspend"]) expect(cleared).not.toHaveProperty(k);
    expect(cleared.mock).toEqual(step.mock);
    expect(cleared.priority).toBe(1);
  });
  it("sets options on a bare step in Windmill's shapes", () => {
    const s = withOptions({ id: "a", value: { type: "identity" } }, { retry: "exponential", attempts: "3", seconds: "2", multiplier: "1", continueOnError: true, cacheTtl: "30",
      approval: true, requiredEvents: "2", approvalTimeout: "60", skipIf: "flow_input.x", timeout: { name: "", type: "static", text: "5" } });
    expect(s).toEqual({ id: "a", value: { type: "identity" }, retry: { exponential: { attempts: 3, seconds: 2, multiplier: 1 } }, continue_on_error: true, cache_ttl: 30,
      suspend: { required_events: 2, timeout: 60 }, skip_if: { expr: "flow_input.x" }, timeout: { type: "static", value: 5 } });
  });
});

describe("fields and arguments", () => {
  it("round-trip between input_transforms and rows, static values as JSON when they parse", () => {
    const step = { id: "a", value: { type: "rawscript", language: "python3", content: "", input_transforms: {
      text: { type: "javascript" as const, expr: "flow_input.text" }, n: { type: "static" as const, value: 3 }, who: { type: "static" as const, value: "ann" } } } };
    const rows = argRows(step);
    expect(rows).toEqual([{ name: "text", type: "javascript", text: "flow_input.text" }, { name: "n", type: "static", text: "3" }, { name: "who", type: "static", text: "ann" }]);
    expect(transformsOf(rows)).toEqual(step.value.input_transforms);
  });
  it("reads a bare number where Windmill accepts one, and keeps a transform's other fields", () => {
    expect(fieldOf(4)).toEqual({ name: "", type: "static", text: "4" });
    expect(transformOf({ type: "static", text: "5" }, { type: "static", value: 4, note: "x" })).toEqual({ type: "static", value: 5, note: "x" });
    expect(transformOf({ type: "static", text: "" }, { type: "static", value: 4 })).toBeUndefined();
  });
});

describe("new steps and nesting", () => {
  it("builds a for loop with a branch to one inside, every id unique", () => {
    const flow: FlowValue = { modules: [newStep({ modules: [] })] };
    const loop = newStep(flow, "forloopflow");
    flow.modules.push(loop);
    const branch = newStep(flow, "branchone");
    loop.value.modules = [...loop.value.modules!, branch];
    expect(loop.value).toMatchObject({ type: "forloopflow", iterator: { type: "javascript", expr: "flow_input.items" }, parallel: false, skip_failures: false });
    expect(loop.value.modules![0].value.input_transforms).toEqual({ item: { type: "javascript", expr: "flow_input.iter.value" } });
    expect(branch.value).toMatchObject({ type: "branchone", branches: [{ expr: "flow_input.ok === true" }] });
    expect(branch.value.default).toHaveLength(1);
    const ids = allSteps(flow).map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(flowProblem(flow)).toBe("");
    const more = newBranch(flow, "branchone");
    expect(allSteps(flow).map((s) => s.id)).not.toContain(more.modules[0].id);
  });
  it("makes a loop inside a branch, an approval and a branch to all", () => {
    const flow: FlowValue = { modules: [newStep({ modules: [] }, "branchall")] };
    flow.modules[0].value.branches![0].modules.push(newStep(flow, "whileloopflow"));
    flow.modules.push(newStep(flow, "approval"));
    expect(flow.modules[0].value.branches![0].modules[1]).toMatchObject({ value: { type: "whileloopflow" }, stop_after_if: { expr: "result >= 2" } });
    expect(flow.modules[1]).toMatchObject({ id: "approval1", suspend: { required_events: 1, timeout: 1800 } });
    expect(flowProblem(flow)).toBe("");
  });
});

describe("flowProblem", () => {
  const flow: FlowValue = { modules: [newStep({ modules: [] })] };
  it("names duplicate ids, bad ids and a missing early-return step", () => {
    expect(flowProblem({ modules: [flow.modules[0], flow.modules[0]] })).toMatch(/Two steps are called "step1"/);
    expect(flowProblem({ modules: [{ ...flow.modules[0], id: "1x" }] })).toMatch(/letters, digits/);
    expect(flowProblem({ ...flow, early_return: "gone" })).toMatch(/no longer exists/);
  });
  it("finds a duplicate inside a loop, a branch without a condition, a while loop without an end", () => {
    const loop = newStep(flow, "forloopflow");
    expect(flowProblem({ modules: [...flow.modules, { ...loop, value: { ...loop.value, modules: [flow.modules[0]] } }] })).toMatch(/Two steps are called "step1"/);
    const b = newStep(flow, "branchone");
    b.value.branches![0].expr = " ";
    expect(flowProblem({ modules: [b] })).toMatch(/branch 1 needs a condition/);
    const w = newStep(flow, "whileloopflow");
    delete w.stop_after_if;
    expect(flowProblem({ modules: [w] })).toMatch(/run forever/);
  });
  it("gives each new step an unused id", () => {
    expect(newStep({ modules: [{ ...flow.modules[0], id: "step2" }] }).id).toBe("step3");
  });
});

describe("docs", () => {
  it("a document that is not JSON or YAML, or has no modules, is refused in words", () => {
    expect(docFromText("{", "json")).toMatchObject({ ok: false, error: expect.stringMatching(/JSON/) });
    expect(docFromText("value: [", "yaml")).toMatchObject({ ok: false, error: expect.stringMatching(/YAML/) });
    expect(docFromText('{"summary": "x", "value": {}}', "json")).toMatchObject({ ok: false, error: expect.stringMatching(/value.modules/) });
    const d = docFromText("summary: x\nvalue:\n  modules: []\n", "yaml");
    expect(d.ok && (d.doc as FlowDoc).value.modules).toEqual([]);
  });
});
