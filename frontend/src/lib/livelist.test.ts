import { describe, expect, it } from "vitest";
import { LiveList } from "./livelist";

interface Row {
  id: string;
  status: string;
}

function list(filter = (_: Row) => true) {
  let shown: Row[] = [];
  const l = new LiveList<Row>((r) => r.id, filter, (items) => (shown = items));
  return { l, shown: () => shown };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

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
});
