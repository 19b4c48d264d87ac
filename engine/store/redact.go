package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// RedactJobArg replaces the top-level argument name by "[redacted]" in
// every job whose args hold exactly value there: a credential an older
// millrun stored with jobs before it redacted it on the way in. It returns
// how many jobs changed.
func (db *DB) RedactJobArg(ctx context.Context, name, value string) (int64, error) {
	if name == "" || strings.ContainsAny(name, "\"\\") {
		return 0, fmt.Errorf("redact job argument %q: not an argument name", name)
	}
	path := `$."` + name + `"`
	var n int64
	err := db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET args = json_set(args, ?, '[redacted]') WHERE json_valid(args) AND json_extract(args, ?) = ?`, path, path, value)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("redact job argument %s: %w", name, err)
	}
	return n, nil
}
