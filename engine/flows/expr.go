package flows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// ExprTimeout bounds each expression: a `while(true){}` must fail its
// step, not hang the flow.
var ExprTimeout = time.Second

// Secrets gives expressions the workspace's variables and resources
// (Windmill's variable('path') and resource('path') helpers).
type Secrets interface {
	Variable(ctx context.Context, workspace, path string) (string, error)
	// Resource returns the value with its $var: and $res: references
	// resolved, as windmill-client's getResource does.
	Resource(ctx context.Context, workspace, path string) (any, error)
}

// exprEnv is what an expression sees, Windmill's names: flow_input,
// results.<id>, previous_result (and result in predicates), params,
// error (previous_result.error), resume, resumes, approvers, all_iters,
// and the variable() and resource() helpers.
type exprEnv struct {
	ctx       context.Context
	workspace string
	secrets   Secrets
	input     json.RawMessage
	// result finds a step's result, in this flow or an enclosing one.
	result func(id string) (json.RawMessage, bool)
	ids    []string
	vars   map[string]json.RawMessage
}

func (env *exprEnv) with(vars map[string]json.RawMessage) *exprEnv {
	c := *env
	c.vars = map[string]json.RawMessage{}
	for k, v := range env.vars {
		c.vars[k] = v
	}
	for k, v := range vars {
		c.vars[k] = v
	}
	return &c
}

// wrapExpr is the code an expression runs as: Windmill's, an async
// function returning the expression (or, when it has a return statement,
// the expression as the function's body).
func wrapExpr(expr string) string {
	expr = strings.TrimSpace(expr)
	if strings.Contains(expr, "return ") {
		return "(async () => {\n" + expr + "\n})()"
	}
	return "(async () => {\nreturn " + expr + "\n})()"
}

// eval evaluates expr to JSON; undefined is null, as in Windmill.
func (env *exprEnv) eval(expr string) (json.RawMessage, error) {
	expr = strings.TrimSpace(expr)
	if v, ok := env.vars[expr]; ok {
		return v, nil
	}
	if expr == "flow_input" {
		return env.input, nil
	}
	if sub := flowInputRE.FindStringSubmatch(expr); sub != nil {
		var in map[string]json.RawMessage
		if json.Unmarshal(env.input, &in) == nil {
			if v, ok := in[sub[1]+sub[2]]; ok {
				return v, nil
			}
		}
		return json.RawMessage("null"), nil
	}
	vm := goja.New()
	jsonObj := vm.Get("JSON").ToObject(vm)
	parse, _ := goja.AssertFunction(jsonObj.Get("parse"))
	stringify, _ := goja.AssertFunction(jsonObj.Get("stringify"))
	toJS := func(raw json.RawMessage) goja.Value {
		if len(raw) == 0 {
			return goja.Null()
		}
		v, err := parse(goja.Undefined(), vm.ToValue(string(raw)))
		if err != nil {
			return goja.Null()
		}
		return v
	}
	if strings.Contains(expr, "flow_input") {
		vm.Set("flow_input", toJS(env.input))
	}
	for k, v := range env.vars {
		if strings.Contains(expr, k) {
			vm.Set(k, toJS(v))
		}
	}
	if prev, ok := env.vars["previous_result"]; ok && strings.Contains(expr, "error") {
		var p struct {
			Error json.RawMessage `json:"error"`
		}
		_ = json.Unmarshal(prev, &p)
		vm.Set("error", toJS(p.Error))
	}
	results := vm.NewObject()
	if env.result != nil && strings.Contains(expr, "results") {
		for _, id := range env.ids {
			if strings.Contains(expr, id) {
				if v, ok := env.result(id); ok {
					_ = results.Set(id, toJS(v))
				}
			}
		}
	}
	vm.Set("results", results)
	errorCtor := vm.Get("Error")
	fail := func(msg string) {
		e, err := vm.New(errorCtor, vm.ToValue(msg))
		if err != nil {
			panic(vm.NewGoError(errors.New(msg)))
		}
		panic(e)
	}
	vm.Set("variable", func(path string) string {
		if env.secrets == nil {
			fail("variable(): no variables here")
		}
		v, err := env.secrets.Variable(env.ctx, env.workspace, path)
		if err != nil {
			fail(fmt.Sprintf("variable(%q): %s", path, err))
		}
		return v
	})
	vm.Set("resource", func(path string) goja.Value {
		if env.secrets == nil {
			fail("resource(): no resources here")
		}
		v, err := env.secrets.Resource(env.ctx, env.workspace, path)
		if err != nil {
			fail(fmt.Sprintf("resource(%q): %s", path, err))
		}
		b, _ := json.Marshal(v)
		return toJS(b)
	})

	timer := time.AfterFunc(ExprTimeout, func() { vm.Interrupt("timeout") })
	defer timer.Stop()
	v, err := vm.RunString(wrapExpr(expr))
	if err != nil {
		return nil, jsError(err)
	}
	p, ok := v.Export().(*goja.Promise)
	if !ok {
		return nil, errors.New("the expression did not evaluate")
	}
	switch p.State() {
	case goja.PromiseStateRejected:
		return nil, jsError(&goja.Exception{}, p.Result())
	case goja.PromiseStatePending:
		return nil, errors.New("the expression awaits something that never resolves")
	}
	res := p.Result()
	if res == nil || goja.IsUndefined(res) || goja.IsNull(res) {
		return json.RawMessage("null"), nil
	}
	s, err := stringify(goja.Undefined(), res)
	if err != nil {
		return nil, jsError(err)
	}
	if goja.IsUndefined(s) {
		return json.RawMessage("null"), nil
	}
	return json.RawMessage(s.String()), nil
}

// evalBool is Windmill's Boolean(expr).
func (env *exprEnv) evalBool(expr string) (bool, error) {
	v, err := env.eval(expr)
	if err != nil {
		return false, err
	}
	return truthy(v), nil
}

func truthy(v json.RawMessage) bool {
	switch s := strings.TrimSpace(string(v)); s {
	case "", "null", "false", "0", `""`, "-0":
		return false
	default:
		var f float64
		if json.Unmarshal(v, &f) == nil {
			return f != 0
		}
		return true
	}
}

// jsError words what an expression threw: the thrown value (TypeError:
// ...), or that it ran too long.
func jsError(err error, thrown ...goja.Value) error {
	if len(thrown) > 0 && thrown[0] != nil {
		if o, ok := thrown[0].(*goja.Object); ok {
			if ge, ok := o.Export().(error); ok {
				return ge
			}
		}
		return errors.New(thrown[0].String())
	}
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		return fmt.Errorf("the expression ran longer than %s and was stopped", ExprTimeout)
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		if ge, ok := ex.Value().Export().(error); ok {
			return ge
		}
		return errors.New(ex.Value().String())
	}
	return err
}
