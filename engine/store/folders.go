package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Folder is a folder's metadata; Owners and ExtraPerms are JSON text.
type Folder struct {
	Workspace   string
	Name        string
	DisplayName string
	Summary     *string
	Owners      string
	ExtraPerms  string
	UpdatedAt   time.Time
}

// PutFolder creates (ErrDuplicate when it exists) or updates (ErrNotFound
// when it does not) a folder.
func (db *DB) PutFolder(ctx context.Context, f Folder, create bool) error {
	now := micros(time.Now())
	return db.putKeyed(ctx, "folders", f.Workspace, f.Name, create, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO folders (workspace, path, display_name, summary, owners, extra_perms, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (workspace, path) DO UPDATE SET display_name = excluded.display_name, summary = excluded.summary,
			owners = excluded.owners, extra_perms = excluded.extra_perms, updated_at = excluded.updated_at`,
			f.Workspace, f.Name, f.DisplayName, f.Summary, f.Owners, f.ExtraPerms, now, now)
		return err
	})
}

const folderColumns = `workspace, path, display_name, summary, owners, extra_perms, updated_at`

func scanFolder(row interface{ Scan(...any) error }) (Folder, error) {
	var f Folder
	var u int64
	if err := row.Scan(&f.Workspace, &f.Name, &f.DisplayName, &f.Summary, &f.Owners, &f.ExtraPerms, &u); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return f, ErrNotFound
		}
		return f, err
	}
	f.UpdatedAt = time.UnixMicro(u).UTC()
	return f, nil
}

// GetFolder returns one folder.
func (db *DB) GetFolder(ctx context.Context, workspace, name string) (Folder, error) {
	return scanFolder(db.read.QueryRowContext(ctx, `SELECT `+folderColumns+` FROM folders WHERE workspace = ? AND path = ?`, workspace, name))
}

// ListFolders returns a workspace's folders by name.
func (db *DB) ListFolders(ctx context.Context, workspace string) ([]Folder, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+folderColumns+` FROM folders WHERE workspace = ? ORDER BY path`, workspace)
	if err != nil {
		return nil, fmt.Errorf("list folders: %w", err)
	}
	return appendRows([]Folder{}, rows, scanFolder)
}

// DeleteFolder removes a folder's metadata (what is in it stays).
func (db *DB) DeleteFolder(ctx context.Context, workspace, name string) error {
	return db.execOne(ctx, `DELETE FROM folders WHERE workspace = ? AND path = ?`, workspace, name)
}
