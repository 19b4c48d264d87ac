package kept

import (
	"context"
	"errors"
	"testing"

	"github.com/millrun/millrun/engine/errs"
)

func TestAddUserComputesTheRoleAndMakesAMissingUsername(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	for _, c := range []struct {
		n    NewUser
		want WorkspaceUser
	}{
		{NewUser{Email: "ann@example.com", Username: "ann", IsAdmin: true, Operator: true}, WorkspaceUser{Email: "ann@example.com", Username: "ann", Role: "admin"}},
		{NewUser{Email: "bob@example.com", Username: "bob", Operator: true}, WorkspaceUser{Email: "bob@example.com", Username: "bob", Role: "operator"}},
		{NewUser{Email: "Cé.Lia+x@example.com"}, WorkspaceUser{Email: "Cé.Lia+x@example.com", Username: "c.liax", Role: "developer"}},
	} {
		u, err := k.AddUser(ctx, "local", c.n)
		if err != nil || u != c.want {
			t.Fatalf("%+v: %+v %v, want %+v", c.n, u, err, c.want)
		}
	}
	it, err := k.Get(ctx, "local", User, "bob@example.com")
	if err != nil || it.Value != `{"username":"bob","role":"operator","disabled":false}` {
		t.Fatalf("kept as %q %v, want the export's user file", it.Value, err)
	}
	users, err := k.Users(ctx, "local")
	if err != nil || len(users) != 3 || users[0].Email != "Cé.Lia+x@example.com" || users[1].Username != "ann" {
		t.Fatalf("users by email: %+v %v", users, err)
	}
}

func TestAddUserRefusesAnEmailThatIsNoFileNameOrATakenUsername(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	var inv *errs.Invalid
	for _, email := range []string{"ann", "../x@example.com", "a/b@example.com", `a\b@x`, "c:d@x", "a\nb@x", ""} {
		if _, err := k.AddUser(ctx, "local", NewUser{Email: email, Username: "x"}); !errors.As(err, &inv) {
			t.Fatalf("email %q: %v, want an *errs.Invalid", email, err)
		}
	}
	if _, err := k.AddUser(ctx, "local", NewUser{Email: "ann@example.com"}); err != nil {
		t.Fatal(err)
	}
	_, err := k.AddUser(ctx, "local", NewUser{Email: "ann@other.org"})
	if !errors.As(err, &inv) || inv.Msg != "username ann already taken" {
		t.Fatalf("a second ann: %v", err)
	}
	if users, _ := k.Users(ctx, "local"); len(users) != 1 {
		t.Fatalf("refused users were kept: %+v", users)
	}
}

func TestUpdateUserChangesOnlyWhatIsSent(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	if _, err := k.AddUser(ctx, "local", NewUser{Email: "ann@example.com", Username: "ann", Operator: true}); err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	steps := []struct {
		c    UserChange
		want WorkspaceUser
	}{
		{UserChange{Disabled: &yes}, WorkspaceUser{Role: "operator", Disabled: true}},
		{UserChange{IsAdmin: &yes}, WorkspaceUser{Role: "admin", Disabled: true}},
		// One role is kept: an admin made not admin is a developer, as
		// Windmill's role column says, not the operator it was before.
		{UserChange{IsAdmin: &no}, WorkspaceUser{Role: "developer", Disabled: true}},
		{UserChange{Operator: &yes, Disabled: &no}, WorkspaceUser{Role: "operator"}},
	}
	for _, st := range steps {
		st.want.Email, st.want.Username = "ann@example.com", "ann"
		u, err := k.UpdateUser(ctx, "local", "ann", st.c)
		if err != nil || u != st.want {
			t.Fatalf("%+v: %+v %v, want %+v", st.c, u, err, st.want)
		}
		if got, _ := k.UserNamed(ctx, "local", "ann"); got != st.want {
			t.Fatalf("kept %+v, answered %+v", got, st.want)
		}
	}
}

func TestAnUnknownUsernameIsNotFound(t *testing.T) {
	k, ctx := newItems(t), context.Background()
	if _, err := k.AddUser(ctx, "local", NewUser{Email: "ann@example.com", Username: "ann"}); err != nil {
		t.Fatal(err)
	}
	var missing *errs.NotFound
	if _, err := k.UpdateUser(ctx, "local", "bob", UserChange{}); !errors.As(err, &missing) || missing.Msg != "user bob not found" {
		t.Fatalf("update: %v", err)
	}
	if u, err := k.DeleteUser(ctx, "local", "ann"); err != nil || u.Email != "ann@example.com" {
		t.Fatalf("delete: %+v %v", u, err)
	}
	if _, err := k.DeleteUser(ctx, "local", "ann"); !errors.As(err, &missing) || missing.Msg != "user ann not found" {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestUsernameKeepsWhatAPathPartMayHold(t *testing.T) {
	for in, want := range map[string]string{"Ann.Lee": "ann.lee", "a b/c": "abc", "élise_1-x": "lise_1-x", "": "me", "@@": "me"} {
		if got := Username(in); got != want {
			t.Errorf("Username(%q) = %q, want %q", in, got, want)
		}
	}
}
