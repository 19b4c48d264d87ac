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
	"slices"
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
	// No line reaches pip or uv unless it is a PEP 508 requirement and
	// nothing more (see parseRequirement).
	parsed := make([]requirement, len(reqs))
	var bad []error
	for i, line := range reqs {
		r, err := parseRequirement(line)
		if err != nil {
			bad = append(bad, &Error{Kind: ErrInvalid, Package: line, Msg: fmt.Sprintf("the requirement %+q cannot be installed: %v", line, err)})
		}
		parsed[i] = r
	}
	if err := errors.Join(bad...); err != nil {
		return Lock{}, err
	}
	start := time.Now()
	dir, err := os.MkdirTemp("", "millrun-resolve-")
	if err != nil {
		return Lock{}, err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(log, "resolving %s with %s for Python %s (index %s)\n", summary(reqs), t.name(), py.Version, t.IndexURL())
	progress := func(line string) {
		if l := strings.TrimSpace(line); resolveProgress.MatchString(l) {
			fmt.Fprintln(log, "  "+l)
		}
	}
	var pins []Pin
	if t.UV != "" {
		// uv compiles a file only; every line of it was checked above.
		in := filepath.Join(dir, "requirements.in")
		if err := os.WriteFile(in, []byte(strings.Join(reqs, "\n")+"\n"), 0o600); err != nil {
			return Lock{}, err
		}
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
		l := ParseLock(string(data))
		if err := l.Err(); err != nil {
			return Lock{}, &Error{Kind: ErrTool, Index: t.IndexURL(), Msg: "uv wrote a lock that cannot be installed: " + err.Error()}
		}
		pins = l.Pins()
	} else if wheels != "" {
		out, err := t.run(ctx, append([]string{py.Path, "-m", "pip", "wheel", "--wheel-dir", wheels, "--"}, reqs...), progress)
		if err != nil {
			if ctx.Err() != nil {
				return Lock{}, ctx.Err()
			}
			return Lock{}, t.failure(ctx, out, err, "", reqs)
		}
		pins, err = wheelPins(wheels, parsed)
		if err != nil {
			return Lock{}, &Error{Kind: ErrTool, Index: t.IndexURL(), Msg: "pip's wheels cannot be read: " + err.Error(), Tail: tail(out, 10)}
		}
	} else {
		report := filepath.Join(dir, "report.json")
		out, err := t.run(ctx, append([]string{py.Path, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--report", report, "--"}, reqs...), progress)
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
		// What pip read from the packages' metadata becomes lock lines:
		// each must read back as the very pin it was made from.
		r, err := parseRequirement(pins[i].Line)
		if err == nil && (r.key != pins[i].Name || r.exact() != pins[i].Version) {
			err = errors.New("it reads back as another requirement")
		}
		if err != nil {
			return Lock{}, &Error{Kind: ErrTool, Index: t.IndexURL(), Package: pins[i].Line, Msg: fmt.Sprintf("%s's resolution gave the lock line %+q, which cannot be installed: %v", t.name(), pins[i].Line, err)}
		}
	}
	lock := NewLock(py.Minor(), pins)
	if err := lock.Err(); err != nil || len(lock.pins) != len(pins) {
		return Lock{}, &Error{Kind: ErrTool, Index: t.IndexURL(), Msg: fmt.Sprintf("%s's resolution gave a lock that cannot be installed: %v", t.name(), err)}
	}
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
// package, each checked to say in its metadata what its file name says.
// A package fetched from a URL (`foo @ https://…`, asked for or named so
// by another package's metadata) is pinned by that URL, as pip's report
// does: the index may not have that version at all, and a `name==version`
// pin would have its wheel fill the folder every script pinning that
// version from the index shares.
func wheelPins(dir string, reqs []requirement) ([]Pin, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	byURL := map[string]string{}
	for _, r := range reqs {
		if r.url != "" {
			byURL[r.key] = r.url
		}
	}
	type wheel struct {
		file wheelFile
		meta distInfo
	}
	var wheels []wheel
	for _, e := range entries {
		w, ok := parseWheelFile(e.Name())
		if !ok {
			continue
		}
		meta, err := wheelMetadata(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if NormalizeName(meta.name) != w.name || !sameVersion(meta.version, w.version) {
			return nil, fmt.Errorf("%s says it is %+q %+q", e.Name(), meta.name, meta.version)
		}
		wheels = append(wheels, wheel{w, meta})
	}
	// Every URL any package names for a dependency, whatever its marker
	// or extra: pip may have followed it.
	depURLs := map[string][]string{}
	for _, w := range wheels {
		for _, d := range w.meta.requires {
			spec, _, _ := strings.Cut(d, ";")
			if !strings.Contains(spec, "://") {
				continue
			}
			name := NormalizeName(reqNameRe.FindString(strings.TrimSpace(d)))
			url := ""
			if r, err := parseRequirement(d); err == nil {
				url = r.url
			}
			if !slices.Contains(depURLs[name], url) {
				depURLs[name] = append(depURLs[name], url)
			}
		}
	}
	var pins []Pin
	for _, w := range wheels {
		name := w.file.name
		if url, ok := byURL[name]; ok {
			pins = append(pins, Pin{Line: name + " @ " + url, Name: name})
			continue
		}
		if urls, ok := depURLs[name]; ok {
			if len(urls) != 1 || urls[0] == "" {
				return nil, fmt.Errorf("%s is named by URL in other packages' dependencies (%q), and which one pip used cannot be told", name, urls)
			}
			pins = append(pins, Pin{Line: name + " @ " + urls[0], Name: name})
			continue
		}
		pins = append(pins, Pin{Line: name + "==" + w.file.version, Name: name, Version: w.file.version})
	}
	if len(pins) == 0 {
		return nil, errors.New("pip left no wheel")
	}
	return pins, nil
}
