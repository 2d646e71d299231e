// Package plugins is the API for plugin authors: it lets a Go package add
// Benthos components (processors, inputs, outputs, caches, rate limits) to
// every stream weir runs, and names the metadata keys weir's own components
// set.
//
// A plugin registers itself from init(), exactly like a Benthos plugin, but
// on weir's list instead of Benthos's global environment:
//
//	func init() {
//		plugins.RegisterProcessor("reverse", spec, newReverse)
//	}
//
// weir applies the list to each environment it creates (Apply), so tests and
// separate servers in one process stay isolated, and wraps every processor,
// input and output so that a panic inside a plugin becomes an error on that
// message plus a restart of the stream that hit it, never a crash of the
// server. A custom weir binary is a main package that blank-imports the
// plugin packages and calls weir's CLI (see examples/).
//
// This package must not import any other weir package except config: plugin
// authors import it, and it must stay light.
package plugins

import (
	"context"
	"fmt"
	"runtime/debug"
	"sort"
	"sync"

	"github.com/benthosdev/benthos/v4/public/service"
)

// Metadata keys set by the `weir` input on every consumed message.
const (
	MetaTopic           = "weir_topic"
	MetaPartition       = "weir_partition"
	MetaOffset          = "weir_offset"
	MetaTimestampUnixMs = "weir_timestamp_unix_ms"
	MetaKey             = "weir_key"
	// MetaPrefix marks weir's own keys: the `weir` output never stores
	// metadata with this prefix as event headers.
	MetaPrefix = "weir_"
)

// PanicMetric is the counter a wrapped plugin increments when it recovers a
// panic. weir's stream metrics watch it to restart the stream (with backoff).
const PanicMetric = "weir_plugin_panics"

type registration struct {
	kind, name string
	apply      func(env *service.Environment) error
}

var (
	mu   sync.Mutex
	regs = map[string]registration{}
)

func add(kind, name string, apply func(env *service.Environment) error) {
	mu.Lock()
	defer mu.Unlock()
	key := kind + "/" + name
	if _, dup := regs[key]; dup {
		// A duplicate name is a programming error in the binary being built,
		// found at start-up, like Benthos's own registration.
		panic(fmt.Sprintf("weir plugin %s %q registered twice", kind, name))
	}
	regs[key] = registration{kind: kind, name: name, apply: apply}
}

// Registered lists the registered plugins as "kind/name", sorted.
func Registered() []string {
	mu.Lock()
	defer mu.Unlock()
	out := make([]string, 0, len(regs))
	for k := range regs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Apply registers every plugin on env. weir calls it once per environment.
func Apply(env *service.Environment) error {
	mu.Lock()
	list := make([]registration, 0, len(regs))
	for _, r := range regs {
		list = append(list, r)
	}
	mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].kind+list[i].name < list[j].kind+list[j].name })
	for _, r := range list {
		if err := r.apply(env); err != nil {
			return fmt.Errorf("plugin %s %q: %w", r.kind, r.name, err)
		}
	}
	return nil
}

// RegisterProcessor adds a processor plugin.
func RegisterProcessor(name string, spec *service.ConfigSpec, ctor service.ProcessorConstructor) {
	add("processor", name, func(env *service.Environment) error {
		return env.RegisterProcessor(name, spec, func(conf *service.ParsedConfig, mgr *service.Resources) (service.Processor, error) {
			g := newGuard(mgr, "processor", name)
			p, err := construct(g, func() (service.Processor, error) { return ctor(conf, mgr) })
			if err != nil {
				return nil, err
			}
			return &guardedProcessor{p: p, g: g}, nil
		})
	})
}

// RegisterBatchProcessor adds a batch processor plugin.
func RegisterBatchProcessor(name string, spec *service.ConfigSpec, ctor service.BatchProcessorConstructor) {
	add("processor", name, func(env *service.Environment) error {
		return env.RegisterBatchProcessor(name, spec, func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchProcessor, error) {
			g := newGuard(mgr, "processor", name)
			p, err := construct(g, func() (service.BatchProcessor, error) { return ctor(conf, mgr) })
			if err != nil {
				return nil, err
			}
			return &guardedBatchProcessor{p: p, g: g}, nil
		})
	})
}

// RegisterInput adds an input plugin.
func RegisterInput(name string, spec *service.ConfigSpec, ctor service.InputConstructor) {
	add("input", name, func(env *service.Environment) error {
		return env.RegisterInput(name, spec, func(conf *service.ParsedConfig, mgr *service.Resources) (service.Input, error) {
			g := newGuard(mgr, "input", name)
			in, err := construct(g, func() (service.Input, error) { return ctor(conf, mgr) })
			if err != nil {
				return nil, err
			}
			return &guardedInput{in: in, g: g}, nil
		})
	})
}

// RegisterBatchInput adds a batch input plugin.
func RegisterBatchInput(name string, spec *service.ConfigSpec, ctor service.BatchInputConstructor) {
	add("input", name, func(env *service.Environment) error {
		return env.RegisterBatchInput(name, spec, func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchInput, error) {
			g := newGuard(mgr, "input", name)
			in, err := construct(g, func() (service.BatchInput, error) { return ctor(conf, mgr) })
			if err != nil {
				return nil, err
			}
			return &guardedBatchInput{in: in, g: g}, nil
		})
	})
}

// RegisterOutput adds an output plugin.
func RegisterOutput(name string, spec *service.ConfigSpec, ctor service.OutputConstructor) {
	add("output", name, func(env *service.Environment) error {
		return env.RegisterOutput(name, spec, func(conf *service.ParsedConfig, mgr *service.Resources) (service.Output, int, error) {
			g := newGuard(mgr, "output", name)
			var out service.Output
			var n int
			err := g.call(func() error {
				var err error
				out, n, err = ctor(conf, mgr)
				return err
			})
			if err != nil {
				return nil, 0, err
			}
			return &guardedOutput{out: out, g: g}, n, nil
		})
	})
}

// RegisterBatchOutput adds a batch output plugin.
func RegisterBatchOutput(name string, spec *service.ConfigSpec, ctor service.BatchOutputConstructor) {
	add("output", name, func(env *service.Environment) error {
		return env.RegisterBatchOutput(name, spec, func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			g := newGuard(mgr, "output", name)
			var out service.BatchOutput
			var pol service.BatchPolicy
			var n int
			err := g.call(func() error {
				var err error
				out, pol, n, err = ctor(conf, mgr)
				return err
			})
			if err != nil {
				return nil, pol, 0, err
			}
			return &guardedBatchOutput{out: out, g: g}, pol, n, nil
		})
	})
}

// RegisterCache adds a cache plugin.
func RegisterCache(name string, spec *service.ConfigSpec, ctor service.CacheConstructor) {
	add("cache", name, func(env *service.Environment) error {
		return env.RegisterCache(name, spec, ctor)
	})
}

// RegisterRateLimit adds a rate limit plugin.
func RegisterRateLimit(name string, spec *service.ConfigSpec, ctor service.RateLimitConstructor) {
	add("rate_limit", name, func(env *service.Environment) error {
		return env.RegisterRateLimit(name, spec, ctor)
	})
}

// guard turns a panic inside plugin code into an error, logs it with its
// stack, and counts it on PanicMetric so weir restarts the stream.
type guard struct {
	kind, name string
	log        *service.Logger
	panics     *service.MetricCounter
}

func newGuard(mgr *service.Resources, kind, name string) *guard {
	g := &guard{kind: kind, name: name}
	if mgr != nil {
		g.log = mgr.Logger()
		if m := mgr.Metrics(); m != nil {
			g.panics = m.NewCounter(PanicMetric)
		}
	}
	return g
}

// PanicError is the error a wrapped plugin returns instead of panicking.
type PanicError struct {
	Kind, Name string
	Value      any
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("%s plugin %q panicked: %v", e.Kind, e.Name, e.Value)
}

func (g *guard) call(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Kind: g.kind, Name: g.name, Value: v}
			if g.log != nil {
				g.log.With("plugin", g.name, "kind", g.kind, "stack", string(debug.Stack())).Errorf("plugin panicked: %v", v)
			}
			if g.panics != nil {
				g.panics.Incr(1)
			}
		}
	}()
	return fn()
}

// construct runs a plugin's constructor under g, so a panic in it fails the
// stream's build instead of the server.
func construct[T any](g *guard, ctor func() (T, error)) (T, error) {
	var v T
	err := g.call(func() error {
		var err error
		v, err = ctor()
		return err
	})
	return v, err
}

type guardedProcessor struct {
	p service.Processor
	g *guard
}

func (w *guardedProcessor) Process(ctx context.Context, m *service.Message) (out service.MessageBatch, err error) {
	err = w.g.call(func() error {
		var err error
		out, err = w.p.Process(ctx, m)
		return err
	})
	return out, err
}

func (w *guardedProcessor) Close(ctx context.Context) error {
	return w.g.call(func() error { return w.p.Close(ctx) })
}

type guardedBatchProcessor struct {
	p service.BatchProcessor
	g *guard
}

func (w *guardedBatchProcessor) ProcessBatch(ctx context.Context, b service.MessageBatch) (out []service.MessageBatch, err error) {
	err = w.g.call(func() error {
		var err error
		out, err = w.p.ProcessBatch(ctx, b)
		return err
	})
	return out, err
}

func (w *guardedBatchProcessor) Close(ctx context.Context) error {
	return w.g.call(func() error { return w.p.Close(ctx) })
}

type guardedInput struct {
	in service.Input
	g  *guard
}

func (w *guardedInput) Connect(ctx context.Context) error {
	return w.g.call(func() error { return w.in.Connect(ctx) })
}

func (w *guardedInput) Read(ctx context.Context) (m *service.Message, ack service.AckFunc, err error) {
	err = w.g.call(func() error {
		var err error
		m, ack, err = w.in.Read(ctx)
		return err
	})
	return m, ack, err
}

func (w *guardedInput) Close(ctx context.Context) error {
	return w.g.call(func() error { return w.in.Close(ctx) })
}

type guardedBatchInput struct {
	in service.BatchInput
	g  *guard
}

func (w *guardedBatchInput) Connect(ctx context.Context) error {
	return w.g.call(func() error { return w.in.Connect(ctx) })
}

func (w *guardedBatchInput) ReadBatch(ctx context.Context) (b service.MessageBatch, ack service.AckFunc, err error) {
	err = w.g.call(func() error {
		var err error
		b, ack, err = w.in.ReadBatch(ctx)
		return err
	})
	return b, ack, err
}

func (w *guardedBatchInput) Close(ctx context.Context) error {
	return w.g.call(func() error { return w.in.Close(ctx) })
}

type guardedOutput struct {
	out service.Output
	g   *guard
}

func (w *guardedOutput) Connect(ctx context.Context) error {
	return w.g.call(func() error { return w.out.Connect(ctx) })
}

func (w *guardedOutput) Write(ctx context.Context, m *service.Message) error {
	return w.g.call(func() error { return w.out.Write(ctx, m) })
}

func (w *guardedOutput) Close(ctx context.Context) error {
	return w.g.call(func() error { return w.out.Close(ctx) })
}

type guardedBatchOutput struct {
	out service.BatchOutput
	g   *guard
}

func (w *guardedBatchOutput) Connect(ctx context.Context) error {
	return w.g.call(func() error { return w.out.Connect(ctx) })
}

func (w *guardedBatchOutput) WriteBatch(ctx context.Context, b service.MessageBatch) error {
	return w.g.call(func() error { return w.out.WriteBatch(ctx, b) })
}

func (w *guardedBatchOutput) Close(ctx context.Context) error {
	return w.g.call(func() error { return w.out.Close(ctx) })
}
