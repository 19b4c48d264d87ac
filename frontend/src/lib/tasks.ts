// What a page does with a failed call and with work it repeats: the
// message is shown in place, the page keeps working.

/** The text a failure shows: an Error's message, anything else as text. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs work; when it fails, hands the failure's message to fail instead
 * of throwing, and resolves to undefined. The answer is work's otherwise.
 */
export async function attempt<T>(work: () => Promise<T>, fail: (message: string) => void): Promise<T | undefined> {
  try {
    return await work();
  } catch (e) {
    fail(messageOf(e));
    return undefined;
  }
}

/**
 * Calls tick now and then every `every` ms until the answer is called:
 * hand it back from onMount, and the polling ends with the page.
 */
export function poll(tick: () => unknown, every: number): () => void {
  tick();
  const timer = setInterval(tick, every);
  return () => clearInterval(timer);
}

/**
 * Calls run once calls to `soon` pause for `wait` ms (as typing does).
 * `cancel` drops a call still waiting; `waiting` says whether one is.
 */
export function debounce(run: () => unknown, wait: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return {
    soon() {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        run();
      }, wait);
    },
    cancel() {
      clearTimeout(timer);
      timer = undefined;
    },
    get waiting() {
      return timer !== undefined;
    },
  };
}
