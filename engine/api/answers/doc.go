// Package answers holds the shapes of the JSON the API answers with. The
// frontend's TypeScript types are generated from this package (make
// types writes frontend/src/lib/api-types.ts), so a field changes in one
// place for both.
//
// The fields of each struct are in the order of their JSON names: these
// answers were maps before, which encoding/json writes with sorted keys,
// and clients (Windmill's CLI among them) saw those bytes. The few that
// were structs already keep their order (the order test lists them).
//
// Where Windmill lets a client push fields millrun keeps without a column
// for them (scripts, flows, apps, resource types, other triggers), the
// answer is the struct with those fields put over it, as pushed
// (engine/api's over and keptOver): the struct has the fields millrun
// itself writes.
package answers

// ExtraPerms is Windmill's extra_perms: who besides the owner may read
// (false) or also write (true) an item. millrun has one person, so it
// grants nothing; it is kept so what was pushed reads back.
type ExtraPerms map[string]bool
