package scripts

import (
	"context"
	"testing"
)

// Archiving by hash archives the path only when the hash is its latest
// version, archived or not.
func TestIsLatest(t *testing.T) {
	c := setupCatalog(t)
	ctx := context.Background()
	first, _, err := c.Save(ctx, "local", CreateRequest{Path: "u/me/x", Language: "bash", Content: "echo 1\n"})
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := c.Save(ctx, "local", CreateRequest{Path: "u/me/x", Language: "bash", Content: "echo 2\n", ParentHash: first})
	if err != nil {
		t.Fatal(err)
	}
	if c.IsLatest(ctx, "local", "u/me/x", first) || !c.IsLatest(ctx, "local", "u/me/x", second) || c.IsLatest(ctx, "local", "u/me/y", second) {
		t.Fatal("IsLatest")
	}
	if err := c.Archive(ctx, "local", "u/me/x", true); err != nil {
		t.Fatal(err)
	}
	if !c.IsLatest(ctx, "local", "u/me/x", second) {
		t.Fatal("an archived path's latest version")
	}
}
