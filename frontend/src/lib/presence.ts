// Desktop notifications are for when the user is not looking: each
// window tells millrun which page it shows and whether it has focus, when
// that changes and every 20 s while focused (a window that went away stops
// counting on its own).

export interface Presence {
  client: string;
  path: string;
  focused: boolean;
}

export function reportPresence(send: (p: Presence) => Promise<unknown>): () => void {
  const client = globalThis.crypto?.randomUUID?.() ?? Math.random().toString(36).slice(2);
  let last = "";
  const tell = (again = false) => {
    const p = { client, path: location.hash.slice(1) || "/scripts", focused: document.hasFocus() && document.visibilityState === "visible" };
    const key = JSON.stringify(p);
    if (key === last && !again) return;
    last = key;
    send(p).catch(() => {});
  };
  const changed = () => tell();
  const beat = setInterval(() => document.hasFocus() && tell(true), 20_000);
  addEventListener("focus", changed);
  addEventListener("blur", changed);
  addEventListener("hashchange", changed);
  document.addEventListener("visibilitychange", changed);
  tell(true);
  return () => {
    clearInterval(beat);
    removeEventListener("focus", changed);
    removeEventListener("blur", changed);
    removeEventListener("hashchange", changed);
    document.removeEventListener("visibilitychange", changed);
  };
}
