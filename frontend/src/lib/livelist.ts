// A list the server pushes changes to (Runs, Requests): pages are loaded,
// events arrive at any time, including while a page is loading, and the
// page may have been read before they happened. Each load keeps what
// arrives meanwhile and applies it again on top of its page; only the
// latest load's page is shown, as loads overlap (on mount, and when the
// live stream opens or reconnects). Kept free of Svelte so Vitest covers it.
//
// Events are applied in batches: a webhook storm sends hundreds a second,
// and a render for each would leave no time for the user's typing.

export interface LiveOptions {
  /** Milliseconds events wait to be applied together (0: each at once). */
  every?: number;
  /** The most items kept; the oldest beyond it go (they can be loaded again). */
  max?: number;
}

export class LiveList<T> {
  private items: T[] = [];
  private pending: T[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private arriving = new Set<T[]>();
  private latest = 0;
  private every: number;
  private max: number;

  constructor(
    private key: (item: T) => string | number,
    /** Whether a new item belongs in the list under its current filter. */
    private matches: (item: T) => boolean,
    /** Told of every change, with a fresh array; trimmed when the oldest were dropped. */
    private changed: (items: T[], trimmed: boolean) => void,
    options: LiveOptions = {},
  ) {
    this.every = options.every ?? 0;
    this.max = options.max ?? 0;
  }

  /** An event from the server: an item changed or arrived. */
  push(item: T) {
    for (const buffer of this.arriving) buffer.push(item);
    this.pending.push(item);
    if (this.every <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.every);
  }

  /** Applies the events waiting for the next batch now. */
  flush() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    this.show(this.merge(this.items, events));
  }

  /** Stops the batch timer (the page is going away). */
  close() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pending = [];
  }

  /**
   * Loads a page: the first one replaces the list, an older one is added
   * at its end. Returns false when a newer load was started meanwhile (its
   * page wins; this one is dropped).
   */
  async load(fetchPage: () => Promise<T[]>, older = false): Promise<boolean> {
    const seq = ++this.latest;
    const arrived: T[] = [];
    this.arriving.add(arrived);
    try {
      const page = await fetchPage();
      if (seq !== this.latest) return false;
      this.show(this.merge(older ? [...this.items, ...page] : page, arrived));
      return true;
    } finally {
      this.arriving.delete(arrived);
    }
  }

  private show(items: T[]) {
    const trimmed = this.max > 0 && items.length > this.max;
    this.items = trimmed ? items.slice(0, this.max) : items;
    this.changed(this.items, trimmed);
  }

  // One pass however many events: rows they change are replaced (the
  // others keep their identity, so a keyed render leaves them alone), and
  // new rows that match go first, newest first.
  private merge(items: T[], events: T[]): T[] {
    if (events.length === 0) return items;
    const latest = new Map<string | number, T>();
    for (const e of events) {
      const k = this.key(e);
      const before = latest.get(k);
      latest.set(k, before ? { ...before, ...e } : e);
    }
    const updated = items.map((x) => {
      const k = this.key(x);
      const e = latest.get(k);
      if (e === undefined) return x;
      latest.delete(k);
      return { ...x, ...e };
    });
    const fresh = [...latest.values()].filter((x) => this.matches(x)).reverse();
    return fresh.length ? [...fresh, ...updated] : updated;
  }
}
