package runtime

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestInferSchema(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, lang, src string
		order           []string
		required        []string
		types           map[string]string
		defaults        map[string]string
	}{
		{"python typed", Python, "import os\n\ndef helper(x): pass\n\ndef main(a: int, b: str = \"x\", c: float = 1.5, d: bool = True, e: list[str] = ['a'], f: dict = {}, g: Optional[int] = None):\n    pass\n",
			[]string{"a", "b", "c", "d", "e", "f", "g"}, []string{"a"},
			map[string]string{"a": "integer", "b": "string", "c": "number", "d": "boolean", "e": "array", "f": "object", "g": "integer"},
			map[string]string{"b": `"x"`, "c": "1.5", "d": "true", "e": `["a"]`, "f": "{}", "g": "null"}},
		{"python multiline with comments", Python, "def main(\n    name,  # who\n    n=3,\n    *args,\n    **kwargs,\n):\n    pass\n",
			[]string{"name", "n"}, []string{"name"}, map[string]string{"n": "integer"}, map[string]string{"n": "3"}},
		{"python async no args", Python, "async def main():\n    return 1\n", []string{}, []string{}, nil, nil},
		{"typescript", TypeScript, "type X = {a: number}\nexport async function main(name: string, count: number = 2, tags: string[] = [], opt?: boolean, obj: Record<string, number> = {}, fn = (a: number) => a) {\n}\n",
			[]string{"name", "count", "tags", "opt", "obj", "fn"}, []string{"name"},
			map[string]string{"name": "string", "count": "number", "tags": "array", "opt": "boolean", "obj": "object"},
			map[string]string{"count": "2", "tags": "[]", "obj": "{}"}},
		{"typescript single quotes", "deno", "export function main(greeting = 'hi') {}", []string{"greeting"}, []string{}, map[string]string{"greeting": "string"}, map[string]string{"greeting": `"hi"`}},
		{"bash", Bash, "#!/bin/bash\nname=\"$1\"\ncount=\"${2:-3}\"\nverbose=\"${3:-}\"\necho \"$name\"\n",
			[]string{"name", "count", "verbose"}, []string{"name"}, map[string]string{"name": "string"}, map[string]string{"count": `"3"`, "verbose": `""`}},
		{"bash none", Bash, "echo hi\n", []string{}, []string{}, nil, nil},
	}
	for _, c := range cases {
		s, err := InferSchema(c.lang, c.src)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if strings.Join(s.Order, ",") != strings.Join(c.order, ",") {
			t.Errorf("%s: order %v, want %v", c.name, s.Order, c.order)
		}
		if strings.Join(s.Required, ",") != strings.Join(c.required, ",") {
			t.Errorf("%s: required %v, want %v", c.name, s.Required, c.required)
		}
		for k, typ := range c.types {
			if s.Properties[k] == nil || s.Properties[k].Type != typ {
				t.Errorf("%s: %s type %+v, want %s", c.name, k, s.Properties[k], typ)
			}
		}
		for k, def := range c.defaults {
			if s.Properties[k] == nil || string(s.Properties[k].Default) != def {
				t.Errorf("%s: %s default %s, want %s", c.name, k, s.Properties[k].Default, def)
			}
		}
		if _, err := json.Marshal(s); err != nil {
			t.Errorf("%s: schema does not marshal: %v", c.name, err)
		}
	}
}

func TestInferSchemaErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ lang, src, want string }{
		{Python, "print('no main')", "no main function"},
		{TypeScript, "function main() {}", "export async function main"},
		{Python, "def main(a, b", "no closing parenthesis"},
	} {
		if _, err := InferSchema(c.lang, c.src); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.src, err, c.want)
		}
	}
}

func FuzzInferSchema(f *testing.F) {
	f.Add("def main(a: int, b='x'):\n pass")
	f.Add("export async function main(a: string[], b = {x: 1}) {}")
	f.Add("x=\"${1:-a}\"")
	f.Fuzz(func(t *testing.T, src string) {
		for _, lang := range []string{Python, TypeScript, Bash} {
			_, _ = InferSchema(lang, src)
		}
	})
}
