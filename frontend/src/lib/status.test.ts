import { describe, expect, it } from "vitest";
import { stepStatus } from "./status";

describe("stepStatus", () => {
  it("uses the words runs use", () => {
    expect(stepStatus("Success")).toBe("success");
    expect(stepStatus("InProgress")).toBe("running");
    expect(stepStatus("WaitingForPriorSteps")).toBe("waiting");
    expect(stepStatus("Failure")).toBe("failure");
  });
  it("says a step of a finished flow that never ran did not run, instead of waiting forever", () => {
    expect(stepStatus("WaitingForPriorSteps", true)).toBe("not run");
    expect(stepStatus("WaitingForEvents", true)).toBe("not run");
    expect(stepStatus("Success", true)).toBe("success");
    expect(stepStatus("WaitingForPriorSteps", false)).toBe("waiting");
  });
});
