package pipelines

//go:generate go test -run TestComponentDocs -update .

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/benthosdev/benthos/v4/public/service"
)

// ComponentDocs renders the Markdown reference of weir's own built-in
// components from their config specs (the single source of their fields):
// file name (under docs/components/) → content.
func (env *Environment) ComponentDocs() (map[string][]byte, error) {
	out := map[string][]byte{}
	var errs []error
	env.svc.WalkInputs(func(name string, view *service.ConfigView) {
		if name == weirInputName {
			b, err := view.RenderDocs()
			if err != nil {
				errs = append(errs, err)
			}
			out["weir_input.md"] = retarget(b, "pipelines/weir_input.go")
		}
	})
	env.svc.WalkOutputs(func(name string, view *service.ConfigView) {
		if name == weirOutputName {
			b, err := view.RenderDocs()
			if err != nil {
				errs = append(errs, err)
			}
			out["weir_output.md"] = retarget(b, "pipelines/weir_output.go")
		}
	})
	if len(errs) > 0 {
		return nil, errs[0]
	}
	if len(out) != 2 {
		names := make([]string, 0, len(out))
		for k := range out {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("weir components missing from the environment: have %v", names)
	}
	return out, nil
}

// retarget points the generated file's "edit the source" note at weir's
// source instead of Benthos's tree.
func retarget(doc []byte, source string) []byte {
	return bytes.Replace(doc,
		[]byte("To make changes please edit the corresponding source file under internal/impl/<provider>."),
		[]byte("To make changes edit the config spec in "+source+" and run go generate ./pipelines."), 1)
}
