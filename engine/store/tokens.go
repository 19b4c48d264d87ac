package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Token is a stored API token. Only the SHA-256 of its secret is kept.
type Token struct {
	ID         int64
	Label      string
	Prefix     string
	SecretHash []byte
	Scopes     string // JSON array text; "[]" means full access
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time
	OneTime    bool
}

// InsertToken stores t and sets its ID.
func (db *DB) InsertToken(ctx context.Context, t *Token) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO tokens (label, prefix, secret_hash, scopes, created_at, expires_at, one_time) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			t.Label, t.Prefix, t.SecretHash, t.Scopes, micros(t.CreatedAt), nullMicros(t.ExpiresAt), t.OneTime)
		if err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		t.ID, err = res.LastInsertId()
		return err
	})
}

const tokenColumns = `id, label, prefix, secret_hash, scopes, created_at, expires_at, last_used_at, one_time`

func scanToken(row interface{ Scan(...any) error }) (*Token, error) {
	var t Token
	var created int64
	var expires, used sql.NullInt64
	if err := row.Scan(&t.ID, &t.Label, &t.Prefix, &t.SecretHash, &t.Scopes, &created, &expires, &used, &t.OneTime); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	t.CreatedAt = time.UnixMicro(created).UTC()
	t.ExpiresAt = fromMicros(expires)
	t.LastUsedAt = fromMicros(used)
	return &t, nil
}

// TokenByHash finds the token whose secret hashes to h.
func (db *DB) TokenByHash(ctx context.Context, h []byte) (*Token, error) {
	return scanToken(db.tokenByHash.QueryRowContext(quick(ctx), h))
}

const tokenByHashSQL = `SELECT ` + tokenColumns + ` FROM tokens WHERE secret_hash = ?`

// ListTokens returns every token, newest first.
func (db *DB) ListTokens(ctx context.Context) ([]*Token, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY created_at DESC`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return appendRows(nil, rows, scanToken)
}

// CountTokens returns how many tokens exist.
func (db *DB) CountTokens(ctx context.Context) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens`).Scan(&n)
	return n, err
}

// RevokedToken reports when the token whose secret hashes to h was
// revoked; ErrNotFound when it never was.
func (db *DB) RevokedToken(ctx context.Context, h []byte) (time.Time, error) {
	var at sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT revoked_at FROM revoked_tokens WHERE secret_hash = ?`, h).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, ErrNotFound
	}
	if err != nil {
		return time.Time{}, err
	}
	return fromMicros(at), nil
}

// DeleteTokensByPrefix deletes the tokens whose prefix is prefix.
func (db *DB) DeleteTokensByPrefix(ctx context.Context, prefix string) (int64, error) {
	var n int64
	err := db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE prefix = ?`, prefix)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete token %s: %w", prefix, err)
	}
	return n, nil
}

// TouchToken records a use of token id; grouped with other writes.
func (db *DB) TouchToken(ctx context.Context, id int64, at time.Time) error {
	return db.group.submit(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE tokens SET last_used_at = ? WHERE id = ?`, micros(at), id)
		return err
	})
}

// DeleteToken deletes one token by id, reporting whether it existed.
func (db *DB) DeleteToken(ctx context.Context, id int64) (bool, error) {
	var n int64
	err := db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE id = ?`, id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n == 1, err
}

// ConsumeOneTimeToken deletes the one-time token with this id and secret
// hash, reporting whether this call was the one that deleted it: of many
// simultaneous logins with one link, exactly one gets true.
func (db *DB) ConsumeOneTimeToken(ctx context.Context, id int64, secretHash []byte) (bool, error) {
	var n int64
	err := db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE id = ? AND secret_hash = ? AND one_time = 1`, id, secretHash)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n == 1, err
}

// TokenIn reports whether the database file at path, another data
// folder's, holds a token whose secret hashes to h. The file is only read:
// it is never created, migrated or locked for writing, and a folder
// without one (or that cannot be read) holds no token.
func TokenIn(ctx context.Context, path string, h []byte) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	if _, err := os.Stat(abs); err != nil {
		return false
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(2000)")
	q.Add("_pragma", "query_only(1)")
	q.Set("mode", "ro")
	db, err := sql.Open("sqlite", "file:"+abs+"?"+q.Encode())
	if err != nil {
		return false
	}
	defer db.Close()
	var one int
	return db.QueryRowContext(ctx, `SELECT 1 FROM tokens WHERE secret_hash = ?`, h).Scan(&one) == nil
}
