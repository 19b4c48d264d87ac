package api

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"

	"github.com/millrun/millrun/engine/store"
)

// object is a JSON object written in the order its fields were added, as
// Windmill's structs serialize: a pulled file reads like one pulled from
// Windmill.
type object []field

type field struct {
	key   string
	value any
}

func (o *object) add(key string, value any) { *o = append(*o, field{key, value}) }

func (o object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// extraFields reads a version's kept fields; a damaged value reads as none.
func extraFields(extra string) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	if extra != "" {
		_ = json.Unmarshal([]byte(extra), &m)
	}
	return m
}

// scriptExportOrder is Windmill's export of a script's metadata
// (workspaces_export.rs ScriptMetadata), in its order, after summary,
// description, schema, lock and kind. A field is written only when it
// was sent, as Windmill leaves out what is unset.
var scriptExportOrder = []string{
	"envs", "cache_ttl", "dedicated_worker", "ws_error_handler_muted", "priority", "tag", "timeout",
	"delete_after_secs", "restart_unless_cancelled", "visible_to_runner_only", "codebase", "has_preprocessor",
	"on_behalf_of_email", "modules", "concurrent_limit", "concurrency_time_window_s", "concurrency_key",
	"debounce_key", "debounce_delay_s", "max_total_debouncing_time", "max_total_debounces_amount",
	"debounce_args_to_accumulate", "labels",
}

// notExported are kept fields a pulled script's file does not carry:
// Windmill's export leaves them out (auto_kind is found again from the
// code; parent_hashes is the server's).
var notExported = map[string]bool{"auto_kind": true, "parent_hashes": true, "is_template": true}

// scriptExport is a script's .script.json in a workspace export: what was
// pushed, as it was pushed. Versions saved by the UI (no kept fields)
// carry the limits millrun has.
func scriptExport(v store.ScriptVersion) object {
	x := extraFields(v.Extra)
	var o object
	o.add("summary", v.Summary)
	o.add("description", v.Description)
	if s, ok := x["schema"]; ok {
		o.add("schema", s)
	} else {
		o.add("schema", json.RawMessage(v.Schema))
	}
	o.add("lock", v.Lock)
	if k, ok := x["kind"]; ok {
		o.add("kind", k)
	} else {
		o.add("kind", "script")
	}
	if len(x) == 0 {
		// Saved without Windmill's fields (millrun's own UI, an older
		// millrun): the limits it has, as before.
		if v.TimeoutS > 0 {
			o.add("timeout", v.TimeoutS)
		}
		if v.ConcurrencyLimit > 0 {
			o.add("concurrent_limit", v.ConcurrencyLimit)
		}
		if v.DedicatedWorker {
			o.add("dedicated_worker", true)
		}
	}
	done := map[string]bool{"schema": true, "kind": true}
	for _, k := range scriptExportOrder {
		if val, ok := x[k]; ok {
			if k == "ws_error_handler_muted" && string(val) == "false" {
				continue // Windmill writes it only when true
			}
			o.add(k, val)
		}
		done[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(x)) {
		if !done[k] && !notExported[k] {
			o.add(k, x[k]) // a field of a newer Windmill: given back too
		}
	}
	if v.NoMainFunc && len(x) == 0 {
		// A library saved without the fields it came with (an older
		// millrun): marked so a push back keeps it one. Otherwise the
		// flag is given back only when it was sent, as sent.
		o.add("no_main_func", true)
	}
	return o
}

// over is an answer (a Script, a Flow, a kept document's server fields)
// with kept fields put over it, so a client reads back what it sent.
func over(answer any, kept map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// The answer's encoder decides on escaping, as it did for every field
	// when these answers were maps.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(answer); err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		return nil, err
	}
	maps.Copy(out, kept)
	return out, nil
}

// keptOver is a version's answer with its kept fields over it (the schema
// as sent, tag, priority, envs, ...), except the fields named in own,
// which this route answers itself.
func keptOver(answer any, extra string, own ...string) (map[string]json.RawMessage, error) {
	kept := extraFields(extra)
	for _, k := range own {
		delete(kept, k)
	}
	// What millrun found in the code is what it does, whatever was sent.
	delete(kept, "auto_kind")
	delete(kept, "no_main_func")
	return over(answer, kept)
}

// flowExport is a flow's .flow.json in a workspace export: its definition
// and every other field as it was pushed (tag, timeout, ...).
func flowExport(f store.FlowVersion) object {
	var o object
	o.add("summary", f.Summary)
	o.add("description", f.Description)
	o.add("value", json.RawMessage(f.Value))
	o.add("schema", json.RawMessage(f.Schema))
	x := extraFields(f.Extra)
	for _, k := range slices.Sorted(maps.Keys(x)) {
		o.add(k, x[k])
	}
	return o
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
