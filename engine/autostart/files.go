//go:build !windows

package autostart

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
)

// Where entries are files (everywhere but Windows), these write, remove
// and compare them.

func writeEntry(path, text string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return writeAtomically(path, []byte(text))
}

// removeEntry removes path; there being none is not an error.
func removeEntry(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// holds reports whether the file at path says exactly text.
func holds(path, text string) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Equal(b, []byte(text))
}
