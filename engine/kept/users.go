package kept

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/store"
)

// User is the kind of a Windmill workspace's users, kept by email so a
// pull gives them back. millrun has one person, who runs it; kept users
// cannot log in or hold tokens here.
const User = "user"

// WorkspaceUser is a kept user; its JSON is what Windmill's export writes
// in users/<email>.user.json.
type WorkspaceUser struct {
	Email    string `json:"-"`
	Username string `json:"username"`
	Role     string `json:"role"` // admin, developer or operator
	Disabled bool   `json:"disabled"`
}

// IsAdmin and IsOperator are the role as Windmill's two flags.
func (u WorkspaceUser) IsAdmin() bool    { return u.Role == "admin" }
func (u WorkspaceUser) IsOperator() bool { return u.Role == "operator" }

// roleOf is Windmill's role from its two flags: admin wins.
func roleOf(isAdmin, operator bool) string {
	switch {
	case isAdmin:
		return "admin"
	case operator:
		return "operator"
	}
	return "developer"
}

// Username makes a username from a name (an email's local part, a login):
// lower-case letters, digits, _, - and ., "me" when none is left, so it
// can name a path part (u/<user>/).
func Username(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' || r == '-' || r == '.' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "me"
	}
	return b.String()
}

// Users returns the kept users, by email.
func (k *Items) Users(ctx context.Context, ws string) ([]WorkspaceUser, error) {
	items, err := k.List(ctx, ws, User)
	if err != nil {
		return nil, err
	}
	out := make([]WorkspaceUser, len(items))
	for i, it := range items {
		_ = json.Unmarshal([]byte(it.Value), &out[i])
		out[i].Email = it.Name
	}
	return out, nil
}

// UserNamed returns the kept user called username; an *errs.NotFound
// when there is none.
func (k *Items) UserNamed(ctx context.Context, ws, username string) (WorkspaceUser, error) {
	users, err := k.Users(ctx, ws)
	if err != nil {
		return WorkspaceUser{}, err
	}
	for _, u := range users {
		if u.Username == username {
			return u, nil
		}
	}
	return WorkspaceUser{}, &errs.NotFound{Msg: "user " + username + " not found", Err: store.ErrNotFound}
}

// NewUser is what Windmill's add_user sends.
type NewUser struct {
	Email    string `json:"email"`
	Username string `json:"username"`
	IsAdmin  bool   `json:"is_admin"`
	Operator bool   `json:"operator"`
}

// AddUser keeps a new user. The email names the user's file in an export,
// so it must be one file name; the username, made from the email when
// left out, must be free.
func (k *Items) AddUser(ctx context.Context, ws string, n NewUser) (WorkspaceUser, error) {
	if !strings.Contains(n.Email, "@") || strings.ContainsAny(n.Email, "/\\:") || strings.Contains(n.Email, "..") ||
		strings.ContainsFunc(n.Email, func(r rune) bool { return r < 0x20 }) {
		return WorkspaceUser{}, errs.Invalidf("invalid email %q", n.Email)
	}
	if n.Username == "" {
		n.Username = Username(strings.Split(n.Email, "@")[0])
	}
	if _, err := k.UserNamed(ctx, ws, n.Username); err == nil {
		return WorkspaceUser{}, errs.Invalidf("username %s already taken", n.Username)
	}
	u := WorkspaceUser{Email: n.Email, Username: n.Username, Role: roleOf(n.IsAdmin, n.Operator)}
	return u, k.Put(ctx, ws, User, u.Email, u)
}

// UserChange is what Windmill's users/update sends; a nil field is left
// as it is.
type UserChange struct {
	IsAdmin  *bool `json:"is_admin"`
	Operator *bool `json:"operator"`
	Disabled *bool `json:"disabled"`
}

// UpdateUser changes a kept user's role or whether it is disabled.
func (k *Items) UpdateUser(ctx context.Context, ws, username string, c UserChange) (WorkspaceUser, error) {
	u, err := k.UserNamed(ctx, ws, username)
	if err != nil {
		return u, err
	}
	admin, op := u.IsAdmin(), u.IsOperator()
	if c.IsAdmin != nil {
		admin = *c.IsAdmin
	}
	if c.Operator != nil {
		op = *c.Operator
	}
	u.Role = roleOf(admin, op)
	if c.Disabled != nil {
		u.Disabled = *c.Disabled
	}
	return u, k.Put(ctx, ws, User, u.Email, u)
}

// DeleteUser forgets the kept user called username and returns it.
func (k *Items) DeleteUser(ctx context.Context, ws, username string) (WorkspaceUser, error) {
	u, err := k.UserNamed(ctx, ws, username)
	if err == nil {
		err = k.Delete(ctx, ws, User, u.Email)
	}
	return u, err
}
