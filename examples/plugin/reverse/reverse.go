// Package reverse is an example weir plugin: a processor that reverses each
// message's bytes, optionally upper-casing them. Importing the package
// registers it (see init), the same way Benthos plugins register.
package reverse

import (
	"bytes"
	"context"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/weirflow/weir/plugins"
)

// The config spec declares the fields once: it parses, lints and documents
// the processor.
var spec = service.NewConfigSpec().
	Summary("Reverses the bytes of each message.").
	Field(service.NewBoolField("upper").Description("Also upper-case the result.").Default(false))

func init() {
	plugins.RegisterProcessor("reverse", spec, newReverse)
}

type reverse struct{ upper bool }

func newReverse(conf *service.ParsedConfig, _ *service.Resources) (service.Processor, error) {
	upper, err := conf.FieldBool("upper")
	if err != nil {
		return nil, err
	}
	return &reverse{upper: upper}, nil
}

func (r *reverse) Process(_ context.Context, m *service.Message) (service.MessageBatch, error) {
	b, err := m.AsBytes()
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(b))
	for i, c := range b {
		out[len(b)-1-i] = c
	}
	if r.upper {
		out = bytes.ToUpper(out)
	}
	// Copy, then mutate: the input message may be shared.
	m = m.Copy()
	m.SetBytes(out)
	return service.MessageBatch{m}, nil
}

func (r *reverse) Close(context.Context) error { return nil }
