package kept

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/millrun/millrun/engine/errs"
)

// ACL is the kind of the extra_perms granted through Windmill's acls/add,
// kept by "<kind>/<path>" of the item they are granted on.
const ACL = "acl"

// ACL returns the extra_perms granted on an item: owner ("u/<user>" or
// "g/<group>") to whether it may write. millrun has one person, so they
// grant nothing here; they are given back so a pull shows them.
func (k *Items) ACL(ctx context.Context, ws, kind, path string) map[string]bool {
	perms := map[string]bool{}
	if it, err := k.Get(ctx, ws, ACL, kind+"/"+path); err == nil {
		_ = json.Unmarshal([]byte(it.Value), &perms)
	}
	return perms
}

// Grant records (grant) or removes (!grant) owner's permission on an item.
// The owner must be named the way Windmill names one, u/<user> or
// g/<group>, because a push compares the names.
func (k *Items) Grant(ctx context.Context, ws, kind, path, owner string, write, grant bool) error {
	if !strings.HasPrefix(owner, "u/") && !strings.HasPrefix(owner, "g/") {
		return errs.Invalidf("owner %q: name u/<user> or g/<group>", owner)
	}
	perms := k.ACL(ctx, ws, kind, path)
	if grant {
		perms[owner] = write
	} else {
		delete(perms, owner)
	}
	return k.Put(ctx, ws, ACL, kind+"/"+path, perms)
}

// dropACL forgets the permissions granted on an item that is gone, so an
// item made later at its path starts with none.
func (k *Items) dropACL(ctx context.Context, ws, kind, path string) {
	_ = k.Delete(ctx, ws, ACL, kind+"/"+path)
}
