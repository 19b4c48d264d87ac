import { describe, expect, it } from "vitest";
import { argRows, flowProblem, newStep, transformsOf, type FlowValue } from "./flows";

describe("step arguments", () => {
  it("round-trip between input_transforms and rows, static values as JSON when they parse", () => {
    const step = { id: "a", value: { type: "rawscript" as const, language: "python3", content: "", input_transforms: {
      text: { type: "javascript" as const, expr: "flow_input.text" }, n: { type: "static" as const, value: 3 }, who: { type: "static" as const, value: "ann" } } } };
    const rows = argRows(step);
    expect(rows).toEqual([{ name: "text", type: "javascript", text: "flow_input.text" }, { name: "n", type: "static", text: "3" }, { name: "who", type: "static", text: "ann" }]);
    expect(transformsOf(rows)).toEqual(step.value.input_transforms);
  });
});

describe("flowProblem", () => {
  const flow: FlowValue = { modules: [newStep({ modules: [] })] };
  it("accepts a flow of valid, distinct steps", () => {
    expect(flowProblem(flow)).toBe("");
  });
  it("names duplicate ids, bad ids and a missing early-return step", () => {
    expect(flowProblem({ modules: [flow.modules[0], flow.modules[0]] })).toMatch(/Two steps are called "step1"/);
    expect(flowProblem({ modules: [{ ...flow.modules[0], id: "1x" }] })).toMatch(/letters, digits/);
    expect(flowProblem({ ...flow, early_return: "gone" })).toMatch(/no longer exists/);
  });
  it("gives each new step an unused id", () => {
    expect(newStep({ modules: [{ ...flow.modules[0], id: "step2" }] }).id).toBe("step3");
  });
});
