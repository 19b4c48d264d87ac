import { describe, expect, it } from "vitest";
import { stepStatus } from "./status";

describe("stepStatus", () => {
  it("uses the words runs use", () => {
    expect(stepStatus("Success")).toBe("success");
    expect(stepStatus("InProgress")).toBe("running");
    expect(stepStatus("WaitingForPriorSteps")).toBe("waiting");
    expect(stepStatus("Failure")).toBe("failure");
  });
});
