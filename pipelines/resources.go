package pipelines

// Shared resources. Benthos v4.27.0 has no public way to share a resource
// between separately built streams, so weir keeps each resource in a
// long-lived "holder" stream of its own and gives every stream proxy
// components, labelled with the resource id, that call into the holder's
// *service.Resources. Replacing a resource builds a new holder, swaps it in
// (proxies look the holder up on every call, so streams are not restarted),
// then stops the old one. Everything about that trick lives in this file.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"
	"go.yaml.in/yaml/v3"
)

// ResourceKinds are the resource types the streams API accepts.
var ResourceKinds = []string{"cache", "input", "output", "processor", "rate_limit"}

// IsResourceKind reports whether kind is one of ResourceKinds.
func IsResourceKind(kind string) bool {
	for _, k := range ResourceKinds {
		if k == kind {
			return true
		}
	}
	return false
}

const (
	hookCacheName   = "weir_resource_hook"
	idleInputName   = "weir_resource_idle"
	proxyCacheName  = "weir_resource_cache"
	proxyRateName   = "weir_resource_rate_limit"
	proxyProcName   = "weir_resource_processor"
	proxyInputName  = "weir_resource_input"
	proxyOutputName = "weir_resource_output"
	holderStopLimit = 10 * time.Second
)

type resourceKey struct{ kind, id string }

// holder is one built resource.
type holder struct {
	key  resourceKey
	strm *service.Stream
	res  *service.Resources
	proc *service.OwnedProcessor
	done chan struct{}
}

type hookResult struct {
	res  *service.Resources
	proc *service.OwnedProcessor
}

type resourceSet struct {
	env     *Environment
	mu      sync.RWMutex
	holders map[resourceKey]*holder
	hooks   sync.Map // token → chan hookResult
}

func newResourceSet(env *Environment) *resourceSet {
	return &resourceSet{env: env, holders: map[resourceKey]*holder{}}
}

func (rs *resourceSet) get(kind, id string) *holder {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	return rs.holders[resourceKey{kind, id}]
}

var errResourceGone = errors.New("shared resource is not available")

// LintResource lints a resource body (after env substitution) as a component
// of the given kind. A YAML error is returned as the error.
func (env *Environment) LintResource(kind string, text []byte) ([]Lint, error) {
	if _, err := parseNode(text); err != nil {
		return nil, err
	}
	b := env.svc.NewStreamBuilder()
	b.SetEnvVarLookupFunc(lookupNone)
	err := addComponentYAML(b, kind, string(protectEnv(text)))
	var le service.LintError
	if errors.As(err, &le) {
		return sortLints(fromServiceLints(le)), nil
	}
	return nil, nil
}

// PreparedResource is a parsed resource config ready to build.
type PreparedResource struct {
	Kind, ID string
	Text     []byte
	doc      []byte // the holder's resources document
	procBody *yaml.Node
}

// ParseResource parses a resource body of kind for id. Parse failures are
// *ParseError; a label that contradicts id on an input or output is a
// *BuildError, as Benthos reports it when storing the resource.
func (env *Environment) ParseResource(kind, id string, text []byte) (*PreparedResource, error) {
	if !IsResourceKind(kind) {
		return nil, fmt.Errorf("unknown resource type %q", kind)
	}
	root, err := parseNode(text)
	if err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	b := env.svc.NewStreamBuilder()
	b.DisableLinting()
	b.SetEnvVarLookupFunc(lookupNone)
	labelled, err := withLabel(text, root, id)
	if err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	if err := addComponentYAML(b, kind, string(protectEnv(labelled))); err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	body := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if root != nil && root.Kind == yaml.MappingNode {
		body = cloneNode(root)
	}
	// Set the label to the resource id; an input or output must not say
	// otherwise.
	for i := 0; i+1 < len(body.Content); i += 2 {
		if body.Content[i].Value == "label" {
			if (kind == "input" || kind == "output") && body.Content[i+1].Value != "" && body.Content[i+1].Value != id {
				return nil, &BuildError{Msg: fmt.Sprintf("label '%v' must be empty or match the resource name '%v'", body.Content[i+1].Value, id)}
			}
			body.Content = append(body.Content[:i], body.Content[i+2:]...)
			break
		}
	}
	p := &PreparedResource{Kind: kind, ID: id, Text: text}
	if kind == "processor" {
		p.procBody = body
		return p, nil
	}
	body.Content = append([]*yaml.Node{strNode("label"), strNode(id)}, body.Content...)
	doc := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		strNode(kind + "_resources"),
		{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{body}},
	}}
	if p.doc, err = yaml.Marshal(doc); err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	return p, nil
}

// SetResource builds a prepared resource and swaps it in for every stream.
// On failure the previous instance (if any) stays in place.
func (env *Environment) SetResource(p *PreparedResource) error {
	h, err := env.res.build(p)
	if err != nil {
		return err
	}
	key := resourceKey{p.Kind, p.ID}
	env.res.mu.Lock()
	old := env.res.holders[key]
	env.res.holders[key] = h
	env.res.mu.Unlock()
	if old != nil {
		old.stop(holderStopLimit)
	}
	return nil
}

// CloseResources stops every holder (shutdown, after the streams).
func (env *Environment) CloseResources(timeout time.Duration) {
	env.res.mu.Lock()
	hs := env.res.holders
	env.res.holders = map[resourceKey]*holder{}
	env.res.mu.Unlock()
	var wg sync.WaitGroup
	for _, h := range hs {
		wg.Add(1)
		go func(h *holder) { defer wg.Done(); h.stop(timeout) }(h)
	}
	wg.Wait()
}

func (rs *resourceSet) build(p *PreparedResource) (*holder, error) {
	token := newToken()
	ch := make(chan hookResult, 1)
	rs.hooks.Store(token, ch)
	defer rs.hooks.Delete(token)

	b := rs.env.svc.NewStreamBuilder()
	b.DisableLinting()
	b.SetEnvVarLookupFunc(lookupNone)
	b.SetLogger(rs.env.slog.With("resource", p.ID, "kind", p.Kind))
	if err := b.SetYAML("input:\n  " + idleInputName + ": {}\noutput:\n  drop: {}\n"); err != nil {
		return nil, &BuildError{Msg: err.Error()}
	}
	if p.doc != nil {
		if err := b.AddResourcesYAML(string(protectEnv(p.doc))); err != nil {
			return nil, &ParseError{Msg: err.Error()}
		}
	}
	hook := map[string]any{"token": token}
	if p.procBody != nil {
		var v any
		if err := p.procBody.Decode(&v); err != nil {
			return nil, &ParseError{Msg: err.Error()}
		}
		hook["processor"] = normalise(v)
	}
	hookDoc, err := json.Marshal(map[string]any{"label": "weir_hook_" + token, hookCacheName: hook})
	if err != nil {
		return nil, err
	}
	if err := b.AddCacheYAML(string(protectEnv(hookDoc))); err != nil {
		return nil, &ParseError{Msg: err.Error()}
	}
	// Resources may refer to other shared resources.
	if err := rs.addProxies(b, p.Kind, p.ID, resourceRefs(p.Text)); err != nil {
		return nil, &BuildError{Msg: err.Error()}
	}
	strm, err := b.Build()
	if err != nil {
		return nil, &BuildError{Msg: resourceBuildMessage(p.Kind, p.ID, err.Error())}
	}
	var hr hookResult
	select {
	case hr = <-ch:
	default:
		return nil, &BuildError{Msg: "resource holder did not initialise"}
	}
	h := &holder{key: resourceKey{p.Kind, p.ID}, strm: strm, res: hr.res, proc: hr.proc, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		if err := strm.Run(context.Background()); err != nil {
			rs.env.log.Error().Err(err).Str("resource", p.ID).Str("kind", p.Kind).Msg("resource holder ended")
		}
	}()
	return h, nil
}

// resourceBuildMessage makes a holder's construction error read as Benthos
// streams mode reports a resource that fails to construct: Benthos builds it
// from the body without a label ("<no label>") under root.<kind>_resources,
// while the holder labels it with its id and builds a processor inside its
// hook cache. Clients and tests compare these texts, so the holder's
// internals must not leak into them.
func resourceBuildMessage(kind, id, msg string) string {
	section := "path root." + kind + "_resources"
	msg = strings.ReplaceAll(msg, "failed to init "+kind+" '"+id+"' "+section, "failed to init "+kind+" <no label> "+section)
	return strings.ReplaceAll(msg, "root.cache_resources."+hookCacheName+".processor", "root.processor_resources")
}

func (h *holder) stop(timeout time.Duration) {
	if h.proc != nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		_ = h.proc.Close(ctx)
		cancel()
	}
	errc := make(chan error, 1)
	go func() { errc <- h.strm.StopWithin(timeout) }()
	select {
	case <-errc:
	case <-time.After(timeout + 5*time.Second):
	}
}

// addProxies adds, to a stream being built, one proxy resource per shared
// resource (except skip), labelled with the resource id. Input proxies are
// added only for ids in inputRefs: Benthos starts reading a resource input as
// soon as it is constructed, so an unused proxy would take messages from the
// shared input that no stream consumes. Every other kind is lazy.
func (rs *resourceSet) addProxies(b *service.StreamBuilder, skipKind, skipID string, inputRefs map[string]bool) error {
	rs.mu.RLock()
	keys := make([]resourceKey, 0, len(rs.holders))
	for k := range rs.holders {
		if k.kind == skipKind && k.id == skipID {
			continue
		}
		if k.kind == "input" && !inputRefs[k.id] {
			continue
		}
		keys = append(keys, k)
	}
	rs.mu.RUnlock()
	if len(keys) == 0 {
		return nil
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].kind != keys[j].kind {
			return keys[i].kind < keys[j].kind
		}
		return keys[i].id < keys[j].id
	})
	doc := map[string][]any{}
	proxy := map[string]string{
		"cache": proxyCacheName, "rate_limit": proxyRateName, "processor": proxyProcName,
		"input": proxyInputName, "output": proxyOutputName,
	}
	for _, k := range keys {
		doc[k.kind+"_resources"] = append(doc[k.kind+"_resources"], map[string]any{
			"label":       k.id,
			proxy[k.kind]: map[string]any{"id": k.id},
		})
	}
	text, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return b.AddResourcesYAML(string(protectEnv(text)))
}

// resourceRefs collects every `resource: <id>` reference in a config text.
func resourceRefs(text []byte) map[string]bool {
	refs := map[string]bool{}
	v, err := Echo(text)
	if err != nil {
		return refs
	}
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				if s, ok := e.(string); ok && k == "resource" {
					refs[s] = true
				}
				walk(e)
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	walk(v)
	return refs
}

func addComponentYAML(b *service.StreamBuilder, kind, text string) error {
	switch kind {
	case "cache":
		return b.AddCacheYAML(text)
	case "rate_limit":
		return b.AddRateLimitYAML(text)
	case "processor":
		return b.AddProcessorYAML(text)
	case "input":
		return b.AddInputYAML(text)
	case "output":
		return b.AddOutputYAML(text)
	}
	return fmt.Errorf("unknown resource type %q", kind)
}

// withLabel makes sure a resource body has a label (Benthos refuses
// resources without one): appended as a last line to a block mapping, so
// the positions of parse errors stay those of the client's body, or added by
// re-encoding otherwise.
func withLabel(text []byte, root *yaml.Node, id string) ([]byte, error) {
	if root == nil || root.Kind != yaml.MappingNode {
		return text, nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "label" {
			return text, nil
		}
	}
	q, err := json.Marshal(id)
	if err != nil {
		return nil, err
	}
	if root.Style&yaml.FlowStyle == 0 && root.Column == 1 {
		out := append([]byte(nil), text...)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		return append(append(append(out, "label: "...), q...), '\n'), nil
	}
	c := cloneNode(root)
	c.Style = 0
	c.Content = append(c.Content, strNode("label"), strNode(id))
	return yaml.Marshal(c)
}

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func cloneNode(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, e := range n.Content {
		c.Content[i] = cloneNode(e)
	}
	return &c
}

// registerResourceComponents registers the holder hook, the idle input and
// the proxies. They are weir internals, not for users' configs.
func (env *Environment) registerResourceComponents() error {
	rs := env.res
	hookSpec := service.NewConfigSpec().
		Summary("weir internal: captures a resource holder's resources.").
		Field(service.NewStringField("token")).
		Field(service.NewProcessorField("processor").Optional())
	if err := env.svc.RegisterCache(hookCacheName, hookSpec, func(conf *service.ParsedConfig, mgr *service.Resources) (service.Cache, error) {
		token, err := conf.FieldString("token")
		if err != nil {
			return nil, err
		}
		var hr hookResult
		hr.res = mgr
		if conf.Contains("processor") {
			if hr.proc, err = conf.FieldProcessor("processor"); err != nil {
				return nil, err
			}
		}
		v, ok := rs.hooks.Load(token)
		if !ok {
			return nil, fmt.Errorf("unknown resource hook %q", token)
		}
		select {
		case v.(chan hookResult) <- hr:
		default:
		}
		return noopCache{}, nil
	}); err != nil {
		return err
	}

	if err := env.svc.RegisterBatchInput(idleInputName,
		service.NewConfigSpec().Summary("weir internal: an input that never produces."),
		func(*service.ParsedConfig, *service.Resources) (service.BatchInput, error) {
			return &idleInput{closed: make(chan struct{})}, nil
		}); err != nil {
		return err
	}

	idSpec := func(what string) *service.ConfigSpec {
		return service.NewConfigSpec().Summary("weir internal: proxy to the shared " + what + " resource.").
			Field(service.NewStringField("id"))
	}
	if err := env.svc.RegisterCache(proxyCacheName, idSpec("cache"), func(conf *service.ParsedConfig, _ *service.Resources) (service.Cache, error) {
		id, err := conf.FieldString("id")
		return &cacheProxy{rs: rs, id: id}, err
	}); err != nil {
		return err
	}
	if err := env.svc.RegisterRateLimit(proxyRateName, idSpec("rate_limit"), func(conf *service.ParsedConfig, _ *service.Resources) (service.RateLimit, error) {
		id, err := conf.FieldString("id")
		return &rateProxy{rs: rs, id: id}, err
	}); err != nil {
		return err
	}
	if err := env.svc.RegisterBatchProcessor(proxyProcName, idSpec("processor"), func(conf *service.ParsedConfig, _ *service.Resources) (service.BatchProcessor, error) {
		id, err := conf.FieldString("id")
		return &procProxy{rs: rs, id: id}, err
	}); err != nil {
		return err
	}
	if err := env.svc.RegisterBatchInput(proxyInputName, idSpec("input"), func(conf *service.ParsedConfig, _ *service.Resources) (service.BatchInput, error) {
		id, err := conf.FieldString("id")
		return &inputProxy{rs: rs, id: id}, err
	}); err != nil {
		return err
	}
	return env.svc.RegisterBatchOutput(proxyOutputName, idSpec("output"), func(conf *service.ParsedConfig, _ *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
		id, err := conf.FieldString("id")
		return &outputProxy{rs: rs, id: id}, service.BatchPolicy{}, 1, err
	})
}

type noopCache struct{}

func (noopCache) Get(context.Context, string) ([]byte, error)               { return nil, service.ErrKeyNotFound }
func (noopCache) Set(context.Context, string, []byte, *time.Duration) error { return nil }
func (noopCache) Add(context.Context, string, []byte, *time.Duration) error { return nil }
func (noopCache) Delete(context.Context, string) error                      { return nil }
func (noopCache) Close(context.Context) error                               { return nil }

type idleInput struct {
	once   sync.Once
	closed chan struct{}
}

func (*idleInput) Connect(context.Context) error { return nil }
func (i *idleInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	select {
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-i.closed:
		return nil, nil, service.ErrEndOfInput
	}
}
func (i *idleInput) Close(context.Context) error {
	i.once.Do(func() { close(i.closed) })
	return nil
}

type cacheProxy struct {
	rs *resourceSet
	id string
}

func (p *cacheProxy) with(ctx context.Context, fn func(c service.Cache)) error {
	h := p.rs.get("cache", p.id)
	if h == nil {
		return errResourceGone
	}
	return h.res.AccessCache(ctx, p.id, fn)
}

func (p *cacheProxy) Get(ctx context.Context, key string) (v []byte, err error) {
	if aerr := p.with(ctx, func(c service.Cache) { v, err = c.Get(ctx, key) }); aerr != nil {
		return nil, aerr
	}
	return v, err
}

func (p *cacheProxy) Set(ctx context.Context, key string, value []byte, ttl *time.Duration) (err error) {
	if aerr := p.with(ctx, func(c service.Cache) { err = c.Set(ctx, key, value, ttl) }); aerr != nil {
		return aerr
	}
	return err
}

func (p *cacheProxy) Add(ctx context.Context, key string, value []byte, ttl *time.Duration) (err error) {
	if aerr := p.with(ctx, func(c service.Cache) { err = c.Add(ctx, key, value, ttl) }); aerr != nil {
		return aerr
	}
	return err
}

func (p *cacheProxy) Delete(ctx context.Context, key string) (err error) {
	if aerr := p.with(ctx, func(c service.Cache) { err = c.Delete(ctx, key) }); aerr != nil {
		return aerr
	}
	return err
}

// Close does nothing: the holder owns the cache.
func (p *cacheProxy) Close(context.Context) error { return nil }

type rateProxy struct {
	rs *resourceSet
	id string
}

func (p *rateProxy) Access(ctx context.Context) (d time.Duration, err error) {
	h := p.rs.get("rate_limit", p.id)
	if h == nil {
		return 0, errResourceGone
	}
	if aerr := h.res.AccessRateLimit(ctx, p.id, func(r service.RateLimit) { d, err = r.Access(ctx) }); aerr != nil {
		return 0, aerr
	}
	return d, err
}

func (p *rateProxy) Close(context.Context) error { return nil }

type procProxy struct {
	rs *resourceSet
	id string
}

func (p *procProxy) ProcessBatch(ctx context.Context, b service.MessageBatch) ([]service.MessageBatch, error) {
	h := p.rs.get("processor", p.id)
	if h == nil || h.proc == nil {
		return nil, errResourceGone
	}
	return h.proc.ProcessBatch(ctx, b)
}

func (p *procProxy) Close(context.Context) error { return nil }

type inputProxy struct {
	rs *resourceSet
	id string
}

func (p *inputProxy) Connect(context.Context) error {
	if p.rs.get("input", p.id) == nil {
		return errResourceGone
	}
	return nil
}

func (p *inputProxy) ReadBatch(ctx context.Context) (b service.MessageBatch, ack service.AckFunc, err error) {
	h := p.rs.get("input", p.id)
	if h == nil {
		return nil, nil, service.ErrNotConnected
	}
	if aerr := h.res.AccessInput(ctx, p.id, func(i *service.ResourceInput) { b, ack, err = i.ReadBatch(ctx) }); aerr != nil {
		return nil, nil, aerr
	}
	return b, ack, err
}

func (p *inputProxy) Close(context.Context) error { return nil }

type outputProxy struct {
	rs *resourceSet
	id string
}

func (p *outputProxy) Connect(context.Context) error {
	if p.rs.get("output", p.id) == nil {
		return errResourceGone
	}
	return nil
}

func (p *outputProxy) WriteBatch(ctx context.Context, b service.MessageBatch) (err error) {
	h := p.rs.get("output", p.id)
	if h == nil {
		return service.ErrNotConnected
	}
	if aerr := h.res.AccessOutput(ctx, p.id, func(o *service.ResourceOutput) { err = o.WriteBatch(ctx, b) }); aerr != nil {
		return aerr
	}
	return err
}

func (p *outputProxy) Close(context.Context) error { return nil }
