package scripts

import "github.com/millrun/millrun/engine/runtime"

// A script's argument schema is read from its main by its language's
// entry in the runtime's language table; these are the names a saved
// script's schema goes by.
type (
	// Schema is the JSON Schema of a script's arguments, as Windmill stores it.
	Schema = runtime.Schema
	// Property describes one argument.
	Property = runtime.Property
)

// ErrNoMain is what InferSchema's error wraps when a Python or TypeScript
// script has no main function: saved on its own, such a script is a
// library (Windmill's no_main_func); inline in a flow, it is a mistake.
var ErrNoMain = runtime.ErrNoMain

// EmptySchema is the schema of a script that takes no arguments (and of
// a library).
func EmptySchema() *Schema { return runtime.EmptySchema() }

// InferSchema reads main's signature (or, for Bash, the positional
// assignments) and returns the argument schema.
func InferSchema(language, content string) (*Schema, error) {
	return runtime.InferSchema(language, content)
}
