package plugins

import (
	"context"
	"errors"
	"testing"

	_ "github.com/benthosdev/benthos/v4/public/components/pure"
	"github.com/benthosdev/benthos/v4/public/service"
)

type boom struct{}

func (boom) Process(context.Context, *service.Message) (service.MessageBatch, error) { panic("boom") }
func (boom) Close(context.Context) error                                             { return nil }

func TestRegisterApplyAndGuard(t *testing.T) {
	RegisterProcessor("plugins_test_boom", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.Processor, error) { return boom{}, nil })
	found := false
	for _, r := range Registered() {
		found = found || r == "processor/plugins_test_boom"
	}
	if !found {
		t.Fatalf("not listed: %v", Registered())
	}
	env := service.NewEnvironment()
	if err := Apply(env); err != nil {
		t.Fatal(err)
	}
	// The registered constructor wraps the plugin: a panic becomes an error.
	var got error
	b := env.NewStreamBuilder()
	if err := b.AddProcessorYAML("plugins_test_boom: {}"); err != nil {
		t.Fatal(err)
	}
	g := &guard{kind: "processor", name: "plugins_test_boom"}
	p := &guardedProcessor{p: boom{}, g: g}
	_, got = p.Process(context.Background(), service.NewMessage(nil))
	var pe *PanicError
	if !errors.As(got, &pe) || pe.Value != "boom" {
		t.Fatalf("err %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate registration did not panic")
		}
	}()
	RegisterProcessor("plugins_test_boom", service.NewConfigSpec(), nil)
}

// A panicking constructor is an error naming the plugin, not a crash; a
// constructor's own error and value pass through unchanged.
func TestConstructGuardsPanics(t *testing.T) {
	g := newGuard(nil, "input", "flaky")
	_, err := construct(g, func() (int, error) { panic("no config") })
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Kind != "input" || pe.Name != "flaky" || pe.Value != "no config" {
		t.Fatalf("err = %#v, want a PanicError for input flaky", err)
	}
	want := errors.New("bad field")
	if _, err := construct(g, func() (int, error) { return 0, want }); err != want {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if v, err := construct(g, func() (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Fatalf("got %d, %v", v, err)
	}
}
