package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Results: what a finished run left (result or error files, its exit), in
// Windmill's shapes, with the size cap.

// outcome reads what a finished run of lang left, in dir and its private
// folder out.
func (r *Runner) outcome(lang *Language, dir, out string, runErr error, tail string) Outcome {
	if lang.outcome != nil {
		return lang.outcome(r, dir, runErr, tail)
	}
	return r.fileOutcome(out, runErr, tail)
}

// fileOutcome reads the result or error file a wrapper wrote in out, or
// what the run's exit says.
func (r *Runner) fileOutcome(out string, runErr error, tail string) Outcome {
	if b, err := r.readResult(filepath.Join(out, "error.json")); err == nil && json.Valid(b) {
		res, _ := json.Marshal(map[string]json.RawMessage{"error": b})
		return Outcome{Result: res}
	}
	if runErr != nil {
		return exitFailure(runErr, tail)
	}
	b, err := r.readResult(filepath.Join(out, "result.json"))
	if tooBig := (*resultTooLarge)(nil); errors.As(err, &tooBig) {
		return tooBig.outcome()
	}
	if err != nil || !json.Valid(b) {
		return Failure("ExecutionErr", "the script ended without writing a result (did it call exit?)", nil)
	}
	return Outcome{Result: b, Success: true}
}

func orderOrEmpty(o []string) []string {
	if o == nil {
		return []string{}
	}
	return o
}

func exitFailure(err error, tail string) Outcome {
	code := -1
	var ee interface{ ExitCode() int } // exec's, or a forked child's
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	return Failure("ExecutionErr", fmt.Sprintf("exit code %d, last log lines: %s", code, lastLines(tail, 5)), map[string]any{"exit_code": code})
}

// resultTooLarge is a result over the size cap, refused before it is read.
type resultTooLarge struct{ size, limit int64 }

func (e *resultTooLarge) Error() string {
	return fmt.Sprintf("the result is %s, over the limit of %s (setting max_result_bytes): return less, or write large data to a file and return its path", sizeText(e.size), sizeText(e.limit))
}

func (e *resultTooLarge) outcome() Outcome {
	return Failure("ResultTooLarge", e.Error(), map[string]any{"size": e.size, "limit": e.limit})
}

func sizeText(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

// readResult reads a result file unless it is over the cap: a script
// returning 50 MB must not make millrun hold it (and again in every
// answer and list).
func (r *Runner) readResult(path string) ([]byte, error) {
	if r.MaxResult != nil {
		if limit := r.MaxResult(); limit > 0 {
			if st, err := os.Stat(path); err == nil && st.Size() > limit {
				return nil, &resultTooLarge{size: st.Size(), limit: limit}
			}
		}
	}
	return os.ReadFile(path)
}

func (r *Runner) bashOutcome(dir string, runErr error, tail string) Outcome {
	if runErr != nil {
		return exitFailure(runErr, tail)
	}
	var tooBig *resultTooLarge
	b, err := r.readResult(filepath.Join(dir, "result.json"))
	if errors.As(err, &tooBig) {
		return tooBig.outcome()
	}
	if err == nil && len(bytes.TrimSpace(b)) > 0 {
		if !json.Valid(b) {
			return Failure("ExecutionErr", "result.json is not valid JSON", nil)
		}
		return Outcome{Result: bytes.TrimSpace(b), Success: true}
	}
	b, err = r.readResult(filepath.Join(dir, "result.out"))
	if errors.As(err, &tooBig) {
		return tooBig.outcome()
	}
	if err == nil {
		res, _ := json.Marshal(string(b))
		return Outcome{Result: res, Success: true}
	}
	res, _ := json.Marshal(strings.TrimSpace(lastLines(tail, 1)))
	return Outcome{Result: res, Success: true}
}
