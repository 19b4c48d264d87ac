package answers

// StrandedReferences answers a change of the datatable settings; wmill
// reads it. millrun keeps no datatables, so nothing is left stranded.
type StrandedReferences struct {
	StrandedReferences []string `json:"stranded_references"`
}

// EncryptionKey is Windmill's workspace encryption key, kept and given
// back (millrun seals its secrets with its own data folder's key).
type EncryptionKey struct {
	Key string `json:"key"`
}
