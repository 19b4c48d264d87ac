import { describe, expect, it } from "vitest";
import { around, cleanPaths, failureOf, logsWithout } from "./failure";

const pyStack = 'Traceback (most recent call last):\n  File "/home/ann/.config/millrun/tmp/millrun-job-3230014301/wrapper.py", line 51, in _run\n    result = mod.main(**args)\n             ^^^^^^^^^^^^^^^^\n  File "/home/ann/.config/millrun/tmp/millrun-job-3230014301/main.py", line 8, in main\n    return helper(x)\n           ^^^^^^^^^\n  File "/home/ann/.config/millrun/tmp/millrun-job-3230014301/main.py", line 4, in helper\n    return 1 / x\n           ~~^~~\nZeroDivisionError: division by zero\n';

describe("failureOf", () => {
  it("reads a Python error: heading, stack without the job folder, the innermost line of main.py", () => {
    const f = failureOf({ error: { name: "ZeroDivisionError", message: "division by zero", stack: pyStack } })!;
    expect(f.name).toBe("ZeroDivisionError");
    expect(f.message).toBe("division by zero");
    expect(f.stack).toContain('File "main.py", line 4, in helper\n    return 1 / x');
    expect(f.stack).not.toContain("millrun-job-");
    expect(f.at).toEqual({ line: 4, fn: "helper" });
  });

  it("links no line of TypeScript bundled for Node, and the first of main.ts run as is", () => {
    const node = failureOf({ error: { name: "TypeError", message: "bad x 0", stack: "TypeError: bad x 0\n    at helper (file:///tmp/d/millrun-job-1/main.mjs:3:9)\n    at file:///tmp/d/millrun-job-1/wrapper.mjs:15:28" } })!;
    expect(node.at).toBeNull();
    expect(node.stack).toBe("TypeError: bad x 0\n    at helper (main.mjs:3:9)\n    at wrapper.mjs:15:28");
    const bun = failureOf({ error: { name: "TypeError", message: "x", stack: "TypeError: x\n    at helper (/tmp/j/main.ts:2:9)\n    at main (/tmp/j/main.ts:6:10)" } })!;
    expect(bun.at).toEqual({ line: 2, fn: "helper" });
  });

  it("splits Bash's message: the exit code heads, the last log lines follow", () => {
    const f = failureOf({ error: { name: "ExecutionErr", exit_code: 2, message: "exit code 2, last log lines: about to fail\nls: cannot access '/nonexistent': No such file or directory" } })!;
    expect(f.message).toBe("exit code 2, last log lines: about to fail");
    expect(f.details).toBe("ls: cannot access '/nonexistent': No such file or directory");
    expect(f.stack).toBe("");
    expect(f.at).toBeNull();
  });

  it("is null for a result that is no error", () => {
    expect(failureOf({ greeting: "hi" })).toBeNull();
    expect(failureOf(null)).toBeNull();
    expect(failureOf({ error: "plain text" })).toBeNull();
  });
});

describe("logsWithout", () => {
  it("takes the traceback out of the logs once, keeping what the script printed", () => {
    const stack = failureOf({ error: { name: "ZeroDivisionError", message: "division by zero", stack: pyStack } })!.stack;
    expect(logsWithout("about to fail\n" + pyStack, stack)).toBe("about to fail\n(the traceback is shown above)");
    expect(logsWithout("nothing alike", stack)).toBe("nothing alike");
  });
});

describe("around", () => {
  it("numbers the lines around the failing one, inside the script", () => {
    expect(around("a\nb\nc\nd", 1)).toEqual([{ n: 1, text: "a" }, { n: 2, text: "b" }, { n: 3, text: "c" }]);
    expect(around("a\nb\nc\nd", 4, 1)).toEqual([{ n: 3, text: "c" }, { n: 4, text: "d" }]);
  });

  it("cleans Windows job folders too", () => {
    expect(cleanPaths('File "C:\\Users\\ann\\AppData\\Local\\Temp\\millrun-job-1\\main.py", line 2')).toBe('File "main.py", line 2');
  });
});
