import { describe, expect, it } from "vitest";
import { coerce, exampleArgs, fields } from "./schema";

const schema = {
  properties: {
    name: { type: "string" },
    count: { type: "integer", default: 3 },
    ratio: { type: "number" },
    loud: { type: "boolean", default: true },
    tags: { type: "array", items: { type: "string" } },
    extra: { type: "object", default: {} },
    anything: {},
  },
  required: ["name"],
  order: ["name", "count", "ratio", "loud", "tags", "extra", "anything"],
};

describe("fields", () => {
  it("follows main's order with defaults as initial text", () => {
    const fs = fields(schema);
    expect(fs.map((f) => f.name)).toEqual(schema.order);
    expect(fs[0]).toEqual({ name: "name", type: "string", required: true, initial: "" });
    expect(fs[1].initial).toBe("3");
    expect(fs[3].initial).toBe("true");
    expect(fs[5].initial).toBe("{}");
  });
  it("handles a missing schema", () => {
    expect(fields(null)).toEqual([]);
  });
});

describe("coerce", () => {
  const fs = fields(schema);
  it("types every value", () => {
    const r = coerce(fs, { name: "ann", count: "5", ratio: "0.5", loud: "false", tags: '["a"]', extra: '{"k":1}', anything: "plain" });
    expect(r).toEqual({ ok: true, args: { name: "ann", count: 5, ratio: 0.5, loud: false, tags: ["a"], extra: { k: 1 }, anything: "plain" } });
  });
  it("leaves empty optional values out so defaults apply", () => {
    expect(coerce(fs, { name: "ann" })).toEqual({ ok: true, args: { name: "ann" } });
  });
  it("explains each bad field", () => {
    const r = coerce(fs, { name: "", count: "2.5", ratio: "x", tags: "{}", extra: "[1]" });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(Object.keys(r.errors).sort()).toEqual(["count", "extra", "name", "ratio", "tags"]);
      expect(r.errors.count).toContain("whole number");
    }
  });
});

describe("exampleArgs", () => {
  it("fills each parameter with its default or an empty value of its type, in main's order", () => {
    expect(exampleArgs(schema)).toBe('{"name":"","count":3,"ratio":0,"loud":true,"tags":[],"extra":{},"anything":null}');
  });
  it("is an empty object for a script without parameters", () => {
    expect(exampleArgs({})).toBe("{}");
    expect(exampleArgs(null)).toBe("{}");
  });
});
