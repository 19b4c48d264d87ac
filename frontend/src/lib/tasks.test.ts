import { afterEach, describe, expect, it, vi } from "vitest";
import { attempt, debounce, messageOf, poll } from "./tasks";

afterEach(() => {
  vi.useRealTimers();
});

describe("attempt", () => {
  it("answers what the work answers and reports nothing", async () => {
    const fail = vi.fn();
    expect(await attempt(async () => 42, fail)).toBe(42);
    expect(fail).not.toHaveBeenCalled();
  });

  it("hands a failure's message over instead of throwing", async () => {
    const shown: string[] = [];
    const got = await attempt(async () => {
      throw new Error("Not found: script u/me/x");
    }, (m) => shown.push(m));
    expect(got).toBeUndefined();
    expect(shown).toEqual(["Not found: script u/me/x"]);
  });

  it("shows something thrown that is not an Error as text", async () => {
    const shown: string[] = [];
    await attempt(() => Promise.reject("offline"), (m) => shown.push(m));
    expect(shown).toEqual(["offline"]);
    expect(messageOf(new TypeError("bad"))).toBe("bad");
  });
});

describe("poll", () => {
  it("ticks at once, then on every period, until stopped", () => {
    vi.useFakeTimers();
    const tick = vi.fn();
    const stop = poll(tick, 5000);
    expect(tick).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10_000);
    expect(tick).toHaveBeenCalledTimes(3);
    stop();
    vi.advanceTimersByTime(20_000);
    expect(tick).toHaveBeenCalledTimes(3);
  });
});

describe("debounce", () => {
  it("runs once the calls pause, not once each", () => {
    vi.useFakeTimers();
    const run = vi.fn();
    const d = debounce(run, 250);
    d.soon();
    vi.advanceTimersByTime(200);
    d.soon();
    vi.advanceTimersByTime(200);
    expect(run).not.toHaveBeenCalled();
    expect(d.waiting).toBe(true);
    vi.advanceTimersByTime(50);
    expect(run).toHaveBeenCalledTimes(1);
    expect(d.waiting).toBe(false);
  });

  it("drops a waiting call when cancelled", () => {
    vi.useFakeTimers();
    const run = vi.fn();
    const d = debounce(run, 250);
    d.soon();
    d.cancel();
    vi.advanceTimersByTime(1000);
    expect(run).not.toHaveBeenCalled();
    expect(d.waiting).toBe(false);
  });
});
