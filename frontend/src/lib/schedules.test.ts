import { describe, expect, it } from "vitest";
import { scheduleFormProblem, showTime, suggestSchedulePath } from "./schedules";

describe("schedule form", () => {
  const ok = { path: "u/me/hello_schedule", cron: "0 0 8 * * 1-5", timezone: "Europe/Paris", onFailure: "" };
  it("accepts a complete form", () => expect(scheduleFormProblem(ok)).toBe(""));
  it("names each mistake", () => {
    expect(scheduleFormProblem({ ...ok, path: "hello" })).toMatch(/u\/<you>\/<name>/);
    expect(scheduleFormProblem({ ...ok, cron: "0 8 *" })).toMatch(/six fields/);
    expect(scheduleFormProblem({ ...ok, timezone: " " })).toMatch(/time zone/);
    expect(scheduleFormProblem({ ...ok, onFailure: "u/me/x" })).toMatch(/script\/u/);
    expect(scheduleFormProblem({ ...ok, onFailure: "script/u/me/alert" })).toBe("");
  });
  it("suggests a free path beside its target", () => {
    expect(suggestSchedulePath("u/me/x", [])).toBe("u/me/x_schedule");
    expect(suggestSchedulePath("u/me/x", ["u/me/x_schedule", "u/me/x_schedule_2"])).toBe("u/me/x_schedule_3");
  });
  it("shows a due time in the schedule's zone", () => {
    expect(showTime("2026-12-07T08:00:00+01:00")).toBe("Mon, 7 Dec 2026, 08:00:00 (+01:00)");
    expect(showTime("2026-12-07T08:00:00Z")).toMatch(/08:00:00 \(UTC\)$/);
    expect(showTime("nonsense")).toBe("nonsense");
  });
});
