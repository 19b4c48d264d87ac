// Package resources keeps Windmill-style resources: named JSON values,
// mostly credentials, sealed with AES-GCM under a key that lives in the
// data directory (never in the database), so a copied database file gives
// no secret away.
package resources

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/store"
)

// KeyFile is the sealing key's name in the data directory.
const KeyFile = "resources.key"

// Resource is what the API shows: the value with secrets masked. A value
// is any JSON, as in Windmill: credentials are objects, and a script's
// state (set_state) may be a number, a list or null.
type Resource struct {
	WorkspaceID  string    `json:"workspace_id"`
	Path         string    `json:"path"`
	ResourceType string    `json:"resource_type"`
	Description  string    `json:"description"`
	Value        any       `json:"value"`
	IsOAuth      bool      `json:"is_oauth"`
	CreatedAt    time.Time `json:"created_at"`
	EditedAt     time.Time `json:"edited_at"`
}

// Store seals and opens resources.
type Store struct {
	db   *store.DB
	aead cipher.AEAD
	// exportNonceKey makes exported secrets deterministic (see
	// ExportSecret), derived from the key so it needs no file of its own.
	exportNonceKey []byte
	// subkeys derives the keys other parts of millrun need (Subkey).
	subkeys []byte
}

// Open loads the sealing key from dataDir, creating it on first use.
func Open(db *store.DB, dataDir string) (*Store, error) {
	keyPath := filepath.Join(dataDir, KeyFile)
	key, err := os.ReadFile(keyPath)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		// O_EXCL: two processes never both invent a key.
		f, err := os.OpenFile(keyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create the resource key: %w", err)
		}
		if _, err := f.Write(key); err != nil {
			f.Close()
			return nil, fmt.Errorf("write the resource key: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		f.Close()
	} else if err != nil {
		return nil, fmt.Errorf("read the resource key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("the resource key %s is damaged (%d bytes, want 32)", keyPath, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("millrun export nonce"))
	sub := hmac.New(sha256.New, key)
	sub.Write([]byte("millrun subkeys"))
	return &Store{db: db, aead: aead, exportNonceKey: mac.Sum(nil), subkeys: sub.Sum(nil)}, nil
}

// Subkey is a secret of this installation for purpose, derived from the
// sealing key: the same across restarts, different per purpose and per
// data folder, and nothing more to keep.
func (s *Store) Subkey(purpose string) []byte {
	mac := hmac.New(sha256.New, s.subkeys)
	mac.Write([]byte(purpose))
	return mac.Sum(nil)
}

var validPath = regexp.MustCompile(`^[uf]/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)

// ValidPath reports whether p is a resource path (u/<user>/... or f/<folder>/...).
func ValidPath(p string) bool {
	if !validPath.MatchString(p) || len(p) > 255 {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func (s *Store) seal(workspace, path string, value any) ([]byte, error) {
	plain, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	return s.sealBytes([]byte(workspace+"\x00"+path), plain)
}

// sealBytes seals plain with bound as authenticated data: a sealed value
// copied to another path (or from a resource to a variable) does not open.
func (s *Store) sealBytes(bound, plain []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plain, bound), nil
}

func (s *Store) openBytes(bound, sealed []byte, what string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, fmt.Errorf("%s is damaged", what)
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], bound)
	if err != nil {
		return nil, fmt.Errorf("%s cannot be opened with this data directory's key", what)
	}
	return plain, nil
}

func (s *Store) open(r *store.Resource) (any, error) {
	plain, err := s.openBytes([]byte(r.Workspace+"\x00"+r.Path), r.Value, "resource "+r.Path)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(plain, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// Put creates (create=true) or replaces a resource. value is any JSON
// value (nil is JSON null).
func (s *Store) Put(ctx context.Context, workspace, path, typ, description string, value any, create bool) error {
	if !ValidPath(path) {
		return errs.Invalidf("invalid resource: path %q must look like u/<user>/<name> or f/<folder>/<name>", path)
	}
	// A value pushed back from a workspace export carries its secrets
	// sealed for export: stored as they were, not as sealed text that no
	// route could match.
	value, err := s.openExported(workspace, value, "")
	if err != nil {
		return errs.Invalidf("resource %s, %s", path, err)
	}
	sealed, err := s.seal(workspace, path, value)
	if err != nil {
		return err
	}
	return s.db.PutResource(ctx, store.Resource{Workspace: workspace, Path: path, ResourceType: typ, Value: sealed, Description: description}, create)
}

// Value returns a resource's full value: for routes' checks and for jobs,
// never for the UI.
func (s *Store) Value(ctx context.Context, workspace, path string) (any, string, error) {
	r, err := s.Full(ctx, workspace, path)
	if err != nil {
		return nil, "", err
	}
	return r.Value, r.ResourceType, nil
}

// Full returns a resource with its value whole (never for the UI).
func (s *Store) Full(ctx context.Context, workspace, path string) (*Resource, error) {
	r, err := s.db.GetResource(ctx, workspace, path)
	if err != nil {
		return nil, err
	}
	return s.view(r, false)
}

// Get returns a resource with its secrets masked.
func (s *Store) Get(ctx context.Context, workspace, path string) (*Resource, error) {
	r, err := s.db.GetResource(ctx, workspace, path)
	if err != nil {
		return nil, err
	}
	return s.view(r, true)
}

// List returns a workspace's resources, masked.
func (s *Store) List(ctx context.Context, workspace string) ([]*Resource, error) {
	return s.list(ctx, workspace, true)
}

// ListFull returns a workspace's resources with their values whole (the
// workspace export; never for the UI).
func (s *Store) ListFull(ctx context.Context, workspace string) ([]*Resource, error) {
	return s.list(ctx, workspace, false)
}

func (s *Store) list(ctx context.Context, workspace string, masked bool) ([]*Resource, error) {
	rs, err := s.db.ListResources(ctx, workspace)
	if err != nil {
		return nil, err
	}
	out := make([]*Resource, 0, len(rs))
	for i := range rs {
		m, err := s.view(&rs[i], masked)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Delete removes a resource.
func (s *Store) Delete(ctx context.Context, workspace, path string) error {
	return s.db.DeleteResource(ctx, workspace, path)
}

func (s *Store) view(r *store.Resource, masked bool) (*Resource, error) {
	v, err := s.open(r)
	if err != nil {
		return nil, err
	}
	if masked {
		v = Mask(v)
	}
	return &Resource{WorkspaceID: r.Workspace, Path: r.Path, ResourceType: r.ResourceType, Description: r.Description,
		Value: v, CreatedAt: r.CreatedAt, EditedAt: r.UpdatedAt}, nil
}

// Mask hides the values of secret-looking fields, however deep in
// objects and lists (a list of replicas each with its password), keeping a
// hint of their last characters so a user can tell which one is stored.
// "$var:" and "$res:" references hold no secret and stay readable.
func Mask(value any) any {
	return mapSecrets(value, "", func(s string) any {
		if strings.HasPrefix(s, "$var:") || strings.HasPrefix(s, "$res:") {
			return s
		}
		return hint(s)
	})
}

// mapSecrets returns v with every string that a secret-looking field holds
// replaced by what secret makes of it. A string's field is the nearest
// object key above it: a list takes the key that holds it, an object in
// a list names its own fields.
func mapSecrets(v any, field string, secret func(string) any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = mapSecrets(val, k, secret)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = mapSecrets(e, field, secret)
		}
		return out
	case string:
		if secretField(field) {
			return secret(x)
		}
	}
	return v
}

func secretField(k string) bool {
	k = strings.ToLower(k)
	if k == "public_key" || k == "header" || k == "username" || k == "user" || k == "provider" || k == "algorithm" || k == "encoding" {
		return false
	}
	for _, w := range []string{"secret", "token", "password", "passwd", "key", "auth", "credential"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func hint(s string) string {
	if len(s) <= 8 {
		return "••••"
	}
	return "••••" + s[len(s)-4:]
}
