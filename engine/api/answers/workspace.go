package answers

// StrandedReferences answers a change of the datatable settings; wmill
// reads it. millrun keeps no datatables, so nothing is left stranded.
type StrandedReferences struct {
	StrandedReferences []string `json:"stranded_references"`
}
