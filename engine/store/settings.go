package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Settings returns every stored setting as raw JSON text by key.
func (db *DB) Settings(ctx context.Context) (map[string]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT key, value FROM settings`)
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	out := map[string]string{}
	err = eachRow(rows, func(row rowScanner) error {
		var k, v string
		err := row.Scan(&k, &v)
		out[k] = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutSettings stores the given settings (JSON text by key) in one transaction.
func (db *DB) PutSettings(ctx context.Context, values map[string]string) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		for k, v := range values {
			if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
				return fmt.Errorf("save setting %s: %w", k, err)
			}
		}
		return nil
	})
}
