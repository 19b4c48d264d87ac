package flows

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dop251/goja"
)

// ExprTimeout bounds each input-transform expression: a `while(true){}`
// must fail its step, not hang the flow.
var ExprTimeout = time.Second

// evaluator evaluates a step's expressions in one embedded JavaScript VM
// that sees flow_input, results and previous_result.
type evaluator struct {
	vm *goja.Runtime
}

func newEvaluator(flowInput, results map[string]any, previous any) *evaluator {
	vm := goja.New()
	vm.Set("flow_input", flowInput)
	vm.Set("results", results)
	vm.Set("previous_result", previous)
	return &evaluator{vm: vm}
}

func (e *evaluator) eval(expr string) (json.RawMessage, error) {
	timer := time.AfterFunc(ExprTimeout, func() { e.vm.Interrupt("timeout") })
	defer timer.Stop()
	v, err := e.vm.RunString(expr)
	e.vm.ClearInterrupt()
	if err != nil {
		var ie *goja.InterruptedError
		if errors.As(err, &ie) {
			return nil, fmt.Errorf("the expression ran longer than %s and was stopped", ExprTimeout)
		}
		var ex *goja.Exception
		if errors.As(err, &ex) {
			return nil, errors.New(ex.Value().String())
		}
		return nil, err
	}
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return json.RawMessage("null"), nil
	}
	b, err := json.Marshal(v.Export())
	if err != nil {
		return nil, fmt.Errorf("the expression's value is not JSON: %s", err)
	}
	return b, nil
}
