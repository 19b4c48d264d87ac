package answers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// unsorted are the answers that were structs before, whose fields keep
// the order they had.
var unsorted = map[string]bool{"ApprovalWait": true, "ApprovalAnswer": true, "ResumeURLs": true, "Tunnel": true}

// Each answer writes its fields in sorted order, as the map it replaced
// did: a client that compared bytes (Windmill's CLI does, for some
// answers) sees no change.
func TestFieldsInJSONNameOrder(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	// The request inspector's answers are generated from too.
	files = append(files, "../../inspector/answers.go")
	structs := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			spec, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := spec.Type.(*ast.StructType)
			if !ok || unsorted[spec.Name.Name] {
				return true
			}
			structs++
			var names []string
			for _, f := range st.Fields.List {
				if f.Tag == nil {
					t.Errorf("%s: a field without a json tag", spec.Name)
					continue
				}
				tag, _ := strconv.Unquote(f.Tag.Value)
				name, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
				names = append(names, name)
			}
			if !slices.IsSorted(names) {
				sorted := slices.Sorted(slices.Values(names))
				t.Errorf("%s: fields out of order:\n got %v\nwant %v", spec.Name, names, sorted)
			}
			return true
		})
	}
	if structs == 0 {
		t.Fatal("no answer structs found")
	}
}
