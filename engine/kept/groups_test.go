package kept

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/millrun/millrun/engine/errs"
)

func TestTheGroupAllHoldsMeAndTheKeptUsersAndCannotChange(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	for _, n := range []NewUser{{Email: "me@example.com", Username: "me"}, {Email: "ann@example.com", Username: "ann"}} {
		if _, err := k.AddUser(ctx, "local", n); err != nil {
			t.Fatal(err)
		}
	}
	all, err := k.GroupNamed(ctx, "local", "me", "all")
	if err != nil || all.Name != "all" || !slices.Equal(all.Members, []string{"me", "ann"}) || all.Summary == nil {
		t.Fatalf("all: %+v %v, want me once, then ann", all, err)
	}
	var inv *errs.Invalid
	for what, err := range map[string]error{
		"create":  k.CreateGroup(ctx, "local", "me", "all", nil),
		"summary": k.SetGroupSummary(ctx, "local", "all", nil),
		"add":     k.AddGroupMember(ctx, "local", "all", "bob"),
		"delete":  k.DeleteGroup(ctx, "local", "all"),
	} {
		if !errors.As(err, &inv) {
			t.Errorf("%s all: %v, want an *errs.Invalid", what, err)
		}
	}
	if groups, err := k.Groups(ctx, "local", "me"); err != nil || len(groups) != 1 || groups[0].Name != "all" {
		t.Fatalf("groups: %+v %v", groups, err)
	}
}

func TestGroupsKeepTheirMembersOnce(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	summary := "operators"
	if err := k.CreateGroup(ctx, "local", "me", "ops", &summary); err != nil {
		t.Fatal(err)
	}
	var inv *errs.Invalid
	if err := k.CreateGroup(ctx, "local", "me", "ops", nil); !errors.As(err, &inv) || inv.Msg != "group ops already exists" {
		t.Fatalf("twice: %v", err)
	}
	for _, name := range []string{"", "a-b", "a/b", "é"} {
		if err := k.CreateGroup(ctx, "local", "me", name, nil); !errors.As(err, &inv) {
			t.Fatalf("name %q: %v", name, err)
		}
	}
	for _, u := range []string{"ann", "bob", "ann"} {
		if err := k.AddGroupMember(ctx, "local", "ops", u); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.RemoveGroupMember(ctx, "local", "ops", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := k.RemoveGroupMember(ctx, "local", "ops", "nobody"); err != nil {
		t.Fatalf("removing a non-member: %v", err)
	}
	if err := k.AddGroupMember(ctx, "local", "ops", ""); !errors.As(err, &inv) {
		t.Fatalf("no username: %v", err)
	}
	if err := k.SetGroupSummary(ctx, "local", "ops", nil); err != nil {
		t.Fatal(err)
	}
	g, err := k.GroupNamed(ctx, "local", "me", "ops")
	if err != nil || g.Name != "ops" || g.Summary != nil || !slices.Equal(g.Members, []string{"ann"}) {
		t.Fatalf("ops: %+v %v", g, err)
	}
	if it, _ := k.Get(ctx, "local", Group, "ops"); it.Value != `{"summary":null,"members":["ann"]}` {
		t.Fatalf("kept as %s", it.Value)
	}
}

func TestDeletingAGroupForgetsItsGrants(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	if err := k.CreateGroup(ctx, "local", "me", "ops", nil); err != nil {
		t.Fatal(err)
	}
	if err := k.Grant(ctx, "local", "group_", "ops", "u/ann", true, true); err != nil {
		t.Fatal(err)
	}
	if err := k.DeleteGroup(ctx, "local", "ops"); err != nil {
		t.Fatal(err)
	}
	var missing *errs.NotFound
	if err := k.DeleteGroup(ctx, "local", "ops"); !errors.As(err, &missing) || missing.Msg != "group ops not found" {
		t.Fatalf("delete twice: %v", err)
	}
	if _, err := k.GroupNamed(ctx, "local", "me", "ops"); !errors.As(err, &missing) {
		t.Fatalf("get: %v", err)
	}
	if err := k.CreateGroup(ctx, "local", "me", "ops", nil); err != nil {
		t.Fatal(err)
	}
	if perms := k.ACL(ctx, "local", "group_", "ops"); len(perms) != 0 {
		t.Fatalf("a new group ops inherits the old one's grants: %v", perms)
	}
}

func TestAGroupFileSplitsAdminsFromMembers(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	summary := "operators"
	if err := k.CreateGroup(ctx, "local", "me", "ops", &summary); err != nil {
		t.Fatal(err)
	}
	if err := k.CreateGroup(ctx, "local", "me", "empty", nil); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"zed", "ann", "bob"} {
		if err := k.AddGroupMember(ctx, "local", "ops", u); err != nil {
			t.Fatal(err)
		}
	}
	for _, owner := range []string{"u/zed", "u/ann"} {
		if err := k.Grant(ctx, "local", "group_", "ops", owner, true, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Grant(ctx, "local", "group_", "ops", "u/bob", false, true); err != nil {
		t.Fatal(err)
	}
	files, err := k.GroupFiles(ctx, "local")
	if err != nil || len(files) != 2 || files[0].Name != "empty" || files[1].Name != "ops" {
		t.Fatalf("files: %+v %v, want empty and ops (not all)", files, err)
	}
	for i, want := range []string{`{"members":[],"admins":[]}`, `{"summary":"operators","members":["u/bob"],"admins":["u/ann","u/zed"]}`} {
		if b, _ := json.Marshal(files[i]); string(b) != want {
			t.Errorf("%s: %s, want %s", files[i].Name, b, want)
		}
	}
}
