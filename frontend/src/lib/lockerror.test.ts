import { describe, expect, it } from "vitest";
import { lockErrorLine, namedPackages } from "./lockerror";

describe("a failed package resolution beside its import", () => {
  const py = "import os\nimport requestz\nfrom yaml import safe_load\n\ndef main():\n    pass\n";
  it("finds the import of the package millrun's message names", () => {
    expect(lockErrorLine(py, "python3", "no package named 'requestz' on the index https://pypi.org/simple: name it in #requirements:")).toBe(2);
    expect(lockErrorLine(py, "python3", "no version of 'PyYAML' matches pyyaml==99 on the index x")).toBe(0);
    expect(lockErrorLine(py.replace("from yaml import safe_load", "from yaml import safe_load  # pin: pyyaml==99"), "python3", "no version of 'PyYAML' matches pyyaml==99")).toBe(3);
  });
  it("reads pip's and uv's own words, and a build failure", () => {
    expect(lockErrorLine(py, "python3", "ERROR: No matching distribution found for requestz==1.0")).toBe(2);
    expect(lockErrorLine(py, "python3", "Because requestz was not found in the package registry")).toBe(2);
    expect(lockErrorLine(py, "python3", "offline: cannot resolve pandas, requestz: the index http://127.0.0.1:9/simple cannot be reached")).toBe(2);
    expect(lockErrorLine("import numpy as np\n", "python3", "numpy==1.0 failed to build from source; the end of its build log:\n...")).toBe(1);
  });
  it("finds a TypeScript import, scoped and versioned", () => {
    const ts = 'import { z } from "zod";\nimport x from "npm:@acme/tool@1.2/sub";\nimport "./local.ts";\n';
    expect(lockErrorLine(ts, "bun", "no package named '@acme/tool' on the registry")).toBe(2);
    expect(lockErrorLine(ts, "bun", 'npm has no version of "zod" matching 9')).toBe(1);
  });
  it("finds a #requirements: line", () => {
    expect(lockErrorLine("#requirements:\n#requestz==1\nimport os\n", "python3", "no package named 'requestz'")).toBe(2);
  });
  it("gives 0 when the message names no import (shown at the top then)", () => {
    expect(lockErrorLine(py, "python3", "uv failed (exit status 2)")).toBe(0);
    expect(namedPackages("the requirement \"foo[bar]>=2\" cannot be installed")).toContain("foo");
  });
});
