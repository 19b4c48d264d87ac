// Where a failed package resolution belongs in a script: the import (or
// requirement line) of the package the error names. Kept free of Svelte
// so Vitest covers it.

// PEP 503's normal form, which also makes npm names comparable.
const norm = (s: string) => s.trim().toLowerCase().replace(/[-_.]+/g, "-");

/** The package names an error message names. */
export function namedPackages(logs: string): string[] {
  const out = new Set<string>();
  const add = (s: string) => {
    // "requests==2.0", "psycopg[binary]", "npm:lodash@4": the name alone.
    const name = s.replace(/^npm:/, "").match(/^(@[\w.-]+\/[\w.-]+|[A-Za-z0-9][\w.-]*)/)?.[1];
    if (name) out.add(norm(name));
  };
  for (const m of logs.matchAll(/'([^'\n]{1,120})'|"([^"\n]{1,120})"/g)) add(m[1] ?? m[2]);
  for (const m of logs.matchAll(/(?:^|\n)\s*(\S+) failed to build|Because (\S+) was not found|found for ([^\s,;]+)/g)) add(m[1] ?? m[2] ?? m[3]);
  // The offline message lists what it could not resolve, unquoted.
  for (const m of logs.matchAll(/cannot resolve ([^:\n]+):|offline: (\S+) is not in the cache/g)) {
    for (const n of (m[1] ?? m[2]).split(/,\s*|\s+and\s+/)) add(n);
  }
  return [...out];
}

function importedHere(line: string, language: string): string[] {
  if (language === "python3") {
    const from = line.match(/^\s*from\s+([A-Za-z_][\w.]*)\s+import\b/);
    if (from) return [from[1].split(".")[0]];
    const imp = line.match(/^\s*import\s+([^#]+)/);
    if (imp) return imp[1].split(",").map((p) => p.trim().split(/[.\s]/)[0]).filter(Boolean);
    return [];
  }
  const spec = line.match(/\bfrom\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']|\brequire\(\s*["']([^"']+)["']\s*\)|\bimport\(\s*["']([^"']+)["']\s*\)/);
  const s = spec && (spec[1] ?? spec[2] ?? spec[3] ?? spec[4]);
  if (!s || s.startsWith(".") || s.startsWith("/")) return [];
  const bare = s.replace(/^npm:/, "");
  const parts = bare.split("/");
  const name = bare.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
  return [name.replace(/(.)@.*$/, "$1")];
}

/** The 1-based line of content that the resolution error names (an
 * import, or a requirement or pin comment naming the package); 0 when it
 * names none. */
export function lockErrorLine(content: string, language: string, logs: string): number {
  const names = namedPackages(logs);
  if (!names.length) return 0;
  const lines = content.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (importedHere(lines[i], language).some((m) => names.includes(norm(m)))) return i + 1;
  }
  // A package whose import name differs (yaml is PyYAML) is named on a
  // #requirements: line or a `# pin:` comment, if anywhere.
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (!/^\s*(#|\/\/|import\b|from\b)/.test(l) && !/#\s*(pin|repin):/.test(l)) continue;
    const words = l.split(/[^A-Za-z0-9_.@/-]+/).filter(Boolean).map((w) => norm(w.replace(/[=<>~!].*$/, "")));
    if (words.some((w) => names.includes(w))) return i + 1;
  }
  return 0;
}
