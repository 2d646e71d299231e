package pipelines

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"

	"github.com/benthosdev/benthos/v4/public/service"
	"github.com/rs/zerolog"

	// The component bundles weir ships: pure (processors, bloblang,
	// generate, drop, caches...) and io (files, sockets, HTTP...).
	_ "github.com/benthosdev/benthos/v4/public/components/io"
	_ "github.com/benthosdev/benthos/v4/public/components/pure"

	"github.com/weirflow/weir/plugins"
)

// Options configure an Environment.
type Options struct {
	// Topics connects the `weir` input and output to weir's topics. Nil makes
	// them report "not connected" (lint, docs and `weir lint` need no engine).
	Topics Topics
	// Logger receives stream and component logs.
	Logger zerolog.Logger
}

// Environment is one engine's Benthos world: the component registry every
// stream of that engine is built from, the per-stream metrics sinks and the
// shared resources. Create one per engine (tests create their own).
type Environment struct {
	svc    *service.Environment
	topics Topics
	log    zerolog.Logger
	slog   *slog.Logger

	// sinks maps a metrics sink token (one per incarnation) to its sink; the
	// exporter constructor looks it up.
	sinks sync.Map
	// identities answers streamIdentity probes: token → stream id.
	identities sync.Map

	mu sync.Mutex
	// current is the sink of each stream id's current incarnation, for
	// Prometheus.
	current map[string]*statsSink

	res *resourceSet
}

// NewEnvironment creates an environment holding Benthos's pure and io
// components, every plugin registered through package plugins, and weir's own
// components (the `weir` input/output, the stats exporter, resource proxies).
func NewEnvironment(opts Options) (*Environment, error) {
	env := &Environment{
		svc:     service.NewEnvironment(),
		topics:  opts.Topics,
		log:     opts.Logger,
		current: map[string]*statsSink{},
	}
	env.slog = slog.New(zerolog.NewSlogHandler(opts.Logger))
	env.res = newResourceSet(env)
	for _, reg := range []func() error{
		env.registerStatsExporter,
		env.registerWeirInput,
		env.registerWeirOutput,
		env.registerResourceComponents,
		func() error { return plugins.Apply(env.svc) },
	} {
		if err := reg(); err != nil {
			return nil, err
		}
	}
	return env, nil
}

// Service returns the underlying Benthos environment (plugin registration in
// tests, docs generation, `weir lint`).
func (env *Environment) Service() *service.Environment { return env.svc }

// newToken returns a random identifier for wiring a built stream to its sink
// or hook; it never appears in user-visible config.
func newToken() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// lookupNone is the env lookup given to StreamBuilder: stored configs are
// already substituted, so Benthos must never find a variable of its own.
func lookupNone(string) (string, bool) { return "", false }
