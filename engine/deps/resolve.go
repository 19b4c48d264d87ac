package deps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Resolve turns requirement lines (Requirements.Lines) into a lock for
// the interpreter: every package, transitive ones included, pinned to
// `name==version`, in Windmill's format. With uv: `uv pip compile`; with
// pip: `pip install --dry-run --ignore-installed --report`, which
// resolves without installing. Both read the user's index configuration.
//
// log receives what is being fetched and how long resolution took (nil:
// nowhere); the caller shows it in the dependency job. On failure the
// error is an *Error and no lock is returned, so a caller keeps the lock
// that works.
func (t Tools) Resolve(ctx context.Context, py Python, reqs []string, log io.Writer) (Lock, error) {
	return t.resolve(ctx, py, reqs, "", log)
}

// resolve is Resolve; with pip and a wheels folder, it resolves with
// `pip wheel` instead of a dry run, leaving there a wheel for every
// package of the lock: the same resolver, and what an install needs next
// without a second pip.
func (t Tools) resolve(ctx context.Context, py Python, reqs []string, wheels string, log io.Writer) (Lock, error) {
	if log == nil {
		log = io.Discard
	}
	if len(reqs) == 0 {
		return NewLock(py.Minor(), nil), nil
	}
	start := time.Now()
	dir, err := os.MkdirTemp("", "millrun-resolve-")
	if err != nil {
		return Lock{}, err
	}
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "requirements.in")
	if err := os.WriteFile(in, []byte(strings.Join(reqs, "\n")+"\n"), 0o600); err != nil {
		return Lock{}, err
	}
	fmt.Fprintf(log, "resolving %s with %s for Python %s (index %s)\n", summary(reqs), t.name(), py.Version, t.IndexURL())
	progress := func(line string) {
		if l := strings.TrimSpace(line); resolveProgress.MatchString(l) {
			fmt.Fprintln(log, "  "+l)
		}
	}
	var pins []Pin
	if t.UV != "" {
		outFile := filepath.Join(dir, "requirements.txt")
		out, err := t.run(ctx, []string{t.UV, "pip", "compile", in, "-o", outFile, "--no-header", "--no-annotate", "--strip-extras", "--python", py.Path}, progress)
		if err != nil {
			if ctx.Err() != nil {
				return Lock{}, ctx.Err()
			}
			return Lock{}, t.failure(ctx, out, err, "", reqs)
		}
		data, err := os.ReadFile(outFile)
		if err != nil {
			return Lock{}, fmt.Errorf("uv wrote no lock: %w", err)
		}
		pins = ParseLock(string(data)).Pins()
	} else if wheels != "" {
		out, err := t.run(ctx, []string{py.Path, "-m", "pip", "wheel", "--wheel-dir", wheels, "-r", in}, progress)
		if err != nil {
			if ctx.Err() != nil {
				return Lock{}, ctx.Err()
			}
			return Lock{}, t.failure(ctx, out, err, "", reqs)
		}
		pins, err = wheelPins(wheels, reqs)
		if err != nil {
			return Lock{}, &Error{Kind: ErrTool, Index: t.IndexURL(), Msg: "pip's wheels cannot be read: " + err.Error(), Tail: tail(out, 10)}
		}
	} else {
		report := filepath.Join(dir, "report.json")
		out, err := t.run(ctx, []string{py.Path, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--report", report, "-r", in}, progress)
		if err != nil {
			if ctx.Err() != nil {
				return Lock{}, ctx.Err()
			}
			return Lock{}, t.failure(ctx, out, err, "", reqs)
		}
		pins, err = readPipReport(report)
		if err != nil {
			return Lock{}, &Error{Kind: ErrTool, Index: t.IndexURL(), Msg: "pip's resolution report cannot be read: " + err.Error(), Tail: tail(out, 10)}
		}
	}
	// uv and pip spell names differently (uv normalizes, pip keeps the
	// metadata's spelling); written normalized, the same requirements
	// give the same lock with either tool, as uv gives it on Windmill.
	for i := range pins {
		if pins[i].Name != "" && pins[i].Version != "" {
			pins[i].Line = pins[i].Name + "==" + pins[i].Version
		}
	}
	lock := NewLock(py.Minor(), pins)
	fmt.Fprintf(log, "resolved %d packages in %s\n", len(pins), time.Since(start).Round(time.Millisecond))
	return lock, nil
}

// resolveProgress picks the lines of pip's and uv's output that say what
// is being fetched or built.
var resolveProgress = regexp.MustCompile(`^(Collecting|Downloading|Using cached|Building|Preparing|Resolved|Prepared|Downloaded|Built|Getting requirements|ERROR|error|WARNING|warning)`)

type pipReport struct {
	Install []struct {
		Metadata struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"metadata"`
		IsDirect     bool `json:"is_direct"`
		DownloadInfo struct {
			URL string `json:"url"`
		} `json:"download_info"`
	} `json:"install"`
}

func readPipReport(path string) ([]Pin, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep pipReport
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, err
	}
	var pins []Pin
	for _, it := range rep.Install {
		name := NormalizeName(it.Metadata.Name)
		if name == "" || it.Metadata.Version == "" {
			continue
		}
		line := name + "==" + it.Metadata.Version
		p := Pin{Line: line, Name: name, Version: it.Metadata.Version}
		if it.IsDirect && it.DownloadInfo.URL != "" {
			// A direct URL (`foo @ https://…`) is what was asked; the
			// index may not have that version at all.
			p = Pin{Line: name + " @ " + it.DownloadInfo.URL, Name: name}
		}
		pins = append(pins, p)
	}
	return pins, nil
}

// wheelPins reads the lock from the wheels `pip wheel` left: one per
// package, named {name}-{version}-…whl. A requirement given by URL
// (`foo @ https://…`) is pinned by that URL, as pip's report does: the
// index may not have that version at all.
func wheelPins(dir string, reqs []string) ([]Pin, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	byURL := map[string]string{}
	for _, r := range reqs {
		if m := urlReq.FindStringSubmatch(r); m != nil {
			url, _, _ := strings.Cut(r[strings.Index(r, "@")+1:], ";")
			byURL[NormalizeName(m[1])] = strings.TrimSpace(url)
		}
	}
	var pins []Pin
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".whl")
		parts := strings.Split(base, "-")
		if !ok || len(parts) < 5 {
			continue
		}
		name := NormalizeName(parts[0])
		if url, ok := byURL[name]; ok {
			pins = append(pins, Pin{Line: name + " @ " + url, Name: name})
			continue
		}
		pins = append(pins, Pin{Line: name + "==" + parts[1], Name: name, Version: parts[1]})
	}
	if len(pins) == 0 {
		return nil, errors.New("pip left no wheel")
	}
	return pins, nil
}
