import { afterEach, describe, expect, it, vi } from "vitest";
import { LiveList, type LiveOptions } from "./livelist";

interface Row {
  id: string;
  status: string;
}

function list(filter = (_: Row) => true, options: LiveOptions = {}) {
  let shown: Row[] = [];
  let renders = 0;
  let trimmed = false;
  const l = new LiveList<Row>((r) => r.id, filter, (items, t) => {
    shown = items;
    renders++;
    trimmed = t;
  }, options);
  return { l, shown: () => shown, renders: () => renders, trimmed: () => trimmed };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("LiveList", () => {
  it("updates a row in place and puts new matching rows first", () => {
    const { l, shown } = list((r) => r.status !== "hidden");
    l.push({ id: "a", status: "queued" });
    l.push({ id: "b", status: "queued" });
    l.push({ id: "a", status: "success" });
    l.push({ id: "c", status: "hidden" });
    expect(shown()).toEqual([
      { id: "b", status: "queued" },
      { id: "a", status: "success" },
    ]);
  });

  it("applies events that arrive while a page loads on top of it", async () => {
    const { l, shown } = list();
    const page = deferred<Row[]>();
    const loading = l.load(() => page.promise);
    l.push({ id: "a", status: "success" }); // happened after the page was read
    l.push({ id: "new", status: "queued" });
    page.resolve([{ id: "a", status: "running" }, { id: "old", status: "success" }]);
    expect(await loading).toBe(true);
    expect(shown()).toEqual([
      { id: "new", status: "queued" },
      { id: "a", status: "success" },
      { id: "old", status: "success" },
    ]);
  });

  it("shows only the newest load's page when loads overlap", async () => {
    const { l, shown } = list();
    const first = deferred<Row[]>();
    const second = deferred<Row[]>();
    const a = l.load(() => first.promise);
    const b = l.load(() => second.promise);
    second.resolve([{ id: "fresh", status: "success" }]);
    first.resolve([{ id: "stale", status: "running" }]);
    expect(await b).toBe(true);
    expect(await a).toBe(false);
    expect(shown()).toEqual([{ id: "fresh", status: "success" }]);
  });

  it("adds an older page at the end", async () => {
    const { l, shown } = list();
    await l.load(async () => [{ id: "2", status: "success" }]);
    await l.load(async () => [{ id: "1", status: "success" }], true);
    expect(shown().map((r) => r.id)).toEqual(["2", "1"]);
  });

  it("renders a storm of events a few times a second, newest first, each row once", async () => {
    vi.useFakeTimers();
    const { l, shown, renders } = list(() => true, { every: 250 });
    await l.load(async () => [{ id: "old", status: "success" }]);
    const before = renders();
    for (let i = 0; i < 600; i++) {
      l.push({ id: `j${i}`, status: "queued" });
      l.push({ id: `j${i}`, status: "success" });
      if (i % 60 === 59) vi.advanceTimersByTime(100); // 600 jobs in one second
    }
    vi.advanceTimersByTime(250);
    expect(renders() - before).toBeLessThanOrEqual(5);
    expect(shown()).toHaveLength(601);
    expect(shown()[0]).toEqual({ id: "j599", status: "success" });
    expect(shown().at(-1)).toEqual({ id: "old", status: "success" });
  });

  it("leaves rows no event touched as they were, so a keyed render skips them", async () => {
    vi.useFakeTimers();
    const { l, shown } = list(() => true, { every: 250 });
    await l.load(async () => [{ id: "a", status: "running" }, { id: "b", status: "success" }]);
    const b = shown()[1];
    l.push({ id: "a", status: "success" });
    vi.advanceTimersByTime(250);
    expect(shown()[1]).toBe(b);
    expect(shown()[0]).toEqual({ id: "a", status: "success" });
  });

  it("keeps at most max rows, saying when the oldest went", async () => {
    const { l, shown, trimmed } = list(() => true, { max: 3 });
    await l.load(async () => [{ id: "1", status: "success" }, { id: "0", status: "success" }]);
    expect(trimmed()).toBe(false);
    l.push({ id: "2", status: "queued" });
    l.push({ id: "3", status: "queued" });
    expect(shown().map((r) => r.id)).toEqual(["3", "2", "1"]);
    expect(trimmed()).toBe(true);
  });
});
