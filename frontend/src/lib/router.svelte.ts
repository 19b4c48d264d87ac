// A hash router: a handful of views need no router library.
export const route = $state({ path: location.hash.slice(1) || "/scripts" });

// A view holding unsaved work registers a guard; leaving it asks first.
let leaveGuard: (() => boolean) | null = null;
let shown = location.hash;

/** guardLeaving makes navigation away ask mayLeave first; it returns the
 * function that removes the guard. */
export function guardLeaving(mayLeave: () => boolean): () => void {
  leaveGuard = mayLeave;
  return () => {
    if (leaveGuard === mayLeave) leaveGuard = null;
  };
}

addEventListener("hashchange", () => {
  if (leaveGuard && !leaveGuard()) {
    history.replaceState(null, "", shown || "#/scripts"); // stay, without another hashchange
    return;
  }
  shown = location.hash;
  route.path = location.hash.slice(1) || "/scripts";
});

export function go(path: string) {
  location.hash = path;
}

/** Shows path in the address bar (a view's own query, say) without
 * navigating: Back and a reload come back to it. */
export function replace(path: string) {
  history.replaceState(null, "", "#" + path);
  shown = location.hash;
}
