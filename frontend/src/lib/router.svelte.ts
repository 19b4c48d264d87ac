// A hash router: a handful of views need no router library.
export const route = $state({ path: location.hash.slice(1) || "/scripts" });

addEventListener("hashchange", () => {
  route.path = location.hash.slice(1) || "/scripts";
});

export function go(path: string) {
  location.hash = path;
}
