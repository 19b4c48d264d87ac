import { describe, expect, it } from "vitest";
import { visibleRange } from "./virtual";

describe("visibleRange", () => {
  it("renders the rows in the window and a few more", () => {
    // The list starts 200 px down a 700 px window: 14 rows of 36 px show.
    expect(visibleRange({ offset: -200, viewport: 700, rowHeight: 36, count: 5000, overscan: 5 })).toEqual({ start: 0, end: 19 });
  });

  it("follows the scroll deep into the list", () => {
    expect(visibleRange({ offset: 36_000, viewport: 720, rowHeight: 36, count: 5000, overscan: 5 })).toEqual({ start: 995, end: 1025 });
  });

  it("stays inside the list", () => {
    expect(visibleRange({ offset: 10_000, viewport: 700, rowHeight: 36, count: 20, overscan: 5 })).toEqual({ start: 20, end: 20 });
    expect(visibleRange({ offset: 0, viewport: 700, rowHeight: 36, count: 0 })).toEqual({ start: 0, end: 0 });
    expect(visibleRange({ offset: -5000, viewport: 700, rowHeight: 36, count: 100, overscan: 3 })).toEqual({ start: 0, end: 3 });
  });
});
