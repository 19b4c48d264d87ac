// A list the server pushes changes to (Runs, Requests): pages are loaded,
// events arrive at any time, including while a page is loading, and the
// page may have been read before they happened. Each load keeps what
// arrives meanwhile and applies it again on top of its page; only the
// latest load's page is shown, as loads overlap (on mount, and when the
// live stream opens or reconnects). Kept free of Svelte so Vitest covers it.

export class LiveList<T> {
  private items: T[] = [];
  private arriving = new Set<T[]>();
  private latest = 0;

  constructor(
    private key: (item: T) => string | number,
    /** Whether a new item belongs in the list under its current filter. */
    private matches: (item: T) => boolean,
    /** Told of every change, with a fresh array. */
    private changed: (items: T[]) => void,
  ) {}

  /** An event from the server: an item changed or arrived. */
  push(item: T) {
    for (const buffer of this.arriving) buffer.push(item);
    this.apply(item);
    this.changed([...this.items]);
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
      this.items = older ? [...this.items, ...page] : [...page];
      for (const item of arrived) this.apply(item);
      this.changed([...this.items]);
      return true;
    } finally {
      this.arriving.delete(arrived);
    }
  }

  private apply(item: T) {
    const k = this.key(item);
    const i = this.items.findIndex((x) => this.key(x) === k);
    if (i >= 0) this.items[i] = { ...this.items[i], ...item };
    else if (this.matches(item)) this.items = [item, ...this.items];
  }
}
