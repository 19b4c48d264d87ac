package kept

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/store"
)

// Group is the kind of a Windmill workspace's groups, kept with their
// members; a member's admin role is an extra_perms entry granted through
// acls/add/group_ (Windmill's way).
const Group = "group"

// Everyone is Windmill's group that holds every user of the workspace:
// here the person running millrun and the kept users. It is not kept and
// cannot change.
const Everyone = "all"

// Identifier is the rule for names Windmill makes identifiers of (resource
// types, groups): letters, digits and _.
var Identifier = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// WorkspaceGroup is a kept group; Members are usernames.
type WorkspaceGroup struct {
	Name    string   `json:"-"`
	Summary *string  `json:"summary"`
	Members []string `json:"members"`
}

func everyoneFixed() error {
	return errs.Invalidf("the group all always holds every user of the workspace")
}

// everyone is the group all: me (the person running millrun) first, then
// the kept users.
func (k *Items) everyone(ctx context.Context, ws, me string) (WorkspaceGroup, error) {
	summary := "The group that always contains all users of this workspace"
	g := WorkspaceGroup{Name: Everyone, Summary: &summary, Members: []string{me}}
	users, err := k.List(ctx, ws, User)
	for _, it := range users {
		var u WorkspaceUser
		if json.Unmarshal([]byte(it.Value), &u) == nil && u.Username != me {
			g.Members = append(g.Members, u.Username)
		}
	}
	return g, err
}

// Groups returns the group all, then the kept groups by name.
func (k *Items) Groups(ctx context.Context, ws, me string) ([]WorkspaceGroup, error) {
	kept, err := k.keptGroups(ctx, ws)
	if err != nil {
		return nil, err
	}
	all, err := k.everyone(ctx, ws, me)
	if err != nil {
		return nil, err
	}
	return append([]WorkspaceGroup{all}, kept...), nil
}

func (k *Items) keptGroups(ctx context.Context, ws string) ([]WorkspaceGroup, error) {
	items, err := k.List(ctx, ws, Group)
	if err != nil {
		return nil, err
	}
	out := make([]WorkspaceGroup, len(items))
	for i, it := range items {
		out[i].Name = it.Name
		_ = json.Unmarshal([]byte(it.Value), &out[i])
	}
	return out, nil
}

// GroupNamed returns one group; an *errs.NotFound when there is none.
func (k *Items) GroupNamed(ctx context.Context, ws, me, name string) (WorkspaceGroup, error) {
	if name == Everyone {
		return k.everyone(ctx, ws, me)
	}
	g := WorkspaceGroup{Name: name}
	it, err := k.Get(ctx, ws, Group, name)
	if errors.Is(err, store.ErrNotFound) {
		return g, &errs.NotFound{Msg: "group " + name + " not found", Err: err}
	}
	if err != nil {
		return g, err
	}
	err = json.Unmarshal([]byte(it.Value), &g)
	return g, err
}

// CreateGroup keeps a new group with no members; its name must be free
// (all is taken) and an identifier.
func (k *Items) CreateGroup(ctx context.Context, ws, me, name string, summary *string) error {
	if !Identifier.MatchString(name) {
		return errs.Invalidf("group name %q: use letters, digits and _", name)
	}
	if _, err := k.GroupNamed(ctx, ws, me, name); err == nil {
		return errs.Invalidf("group %s already exists", name)
	}
	return k.Put(ctx, ws, Group, name, WorkspaceGroup{Summary: summary, Members: []string{}})
}

// EditableGroup returns a kept group that may change: not all, and there.
func (k *Items) EditableGroup(ctx context.Context, ws, name string) (WorkspaceGroup, error) {
	if name == Everyone {
		return WorkspaceGroup{}, everyoneFixed()
	}
	return k.GroupNamed(ctx, ws, "", name)
}

func (k *Items) editGroup(ctx context.Context, ws, name string, change func(g *WorkspaceGroup) error) error {
	g, err := k.EditableGroup(ctx, ws, name)
	if err != nil {
		return err
	}
	if err := change(&g); err != nil {
		return err
	}
	return k.Put(ctx, ws, Group, name, g)
}

// SetGroupSummary replaces a group's summary; nil removes it.
func (k *Items) SetGroupSummary(ctx context.Context, ws, name string, summary *string) error {
	return k.editGroup(ctx, ws, name, func(g *WorkspaceGroup) error {
		g.Summary = summary
		return nil
	})
}

func memberNamed(username string) error {
	if username == "" {
		return errs.Invalidf(`send {"username": "..."}`)
	}
	return nil
}

// AddGroupMember adds username to a group once.
func (k *Items) AddGroupMember(ctx context.Context, ws, name, username string) error {
	return k.editGroup(ctx, ws, name, func(g *WorkspaceGroup) error {
		if err := memberNamed(username); err != nil {
			return err
		}
		if !slices.Contains(g.Members, username) {
			g.Members = append(g.Members, username)
		}
		return nil
	})
}

// RemoveGroupMember removes username from a group; one not in it is no
// error.
func (k *Items) RemoveGroupMember(ctx context.Context, ws, name, username string) error {
	return k.editGroup(ctx, ws, name, func(g *WorkspaceGroup) error {
		if err := memberNamed(username); err != nil {
			return err
		}
		g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return m == username })
		return nil
	})
}

// DeleteGroup forgets a kept group and the permissions granted on it.
func (k *Items) DeleteGroup(ctx context.Context, ws, name string) error {
	if name == Everyone {
		return everyoneFixed()
	}
	if err := k.Delete(ctx, ws, Group, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = &errs.NotFound{Msg: "group " + name + " not found", Err: err}
		}
		return err
	}
	k.dropACL(ctx, ws, "group_", name)
	return nil
}

// GroupFile is a group's groups/<name>.group.json in Windmill's export:
// members and admins (the members granted write on the group) apart, as
// u/<username>.
type GroupFile struct {
	Name    string   `json:"-"`
	Summary *string  `json:"summary,omitempty"`
	Members []string `json:"members"`
	Admins  []string `json:"admins"`
}

// GroupFiles returns what an export writes for the kept groups (all is
// Windmill's own and is not written), by name.
func (k *Items) GroupFiles(ctx context.Context, ws string) ([]GroupFile, error) {
	groups, err := k.keptGroups(ctx, ws)
	if err != nil {
		return nil, err
	}
	out := make([]GroupFile, len(groups))
	for i, g := range groups {
		perms := k.ACL(ctx, ws, "group_", g.Name)
		out[i] = GroupFile{Name: g.Name, Summary: g.Summary, Members: []string{}, Admins: []string{}}
		for _, m := range g.Members {
			if perms["u/"+m] {
				out[i].Admins = append(out[i].Admins, "u/"+m)
			} else {
				out[i].Members = append(out[i].Members, "u/"+m)
			}
		}
		slices.Sort(out[i].Admins)
	}
	return out, nil
}
