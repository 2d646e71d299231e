package actors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"

	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/pipelines"
)

// StreamsOptions configure NewStreams.
type StreamsOptions struct {
	// StopTimeout is the default stop deadline (streams.stop_timeout).
	StopTimeout time.Duration
	// Lookup resolves ${VAR} in request bodies; nil means os.LookupEnv.
	Lookup func(string) (string, bool)
	// Ephemeral keeps the streams in memory only: nothing is restored or
	// persisted (`weir run`).
	Ephemeral bool
	// Environment builds the Benthos environment; nil means
	// pipelines.NewEnvironment with this engine as the topics backend.
	Environment func(pipelines.Options) (*pipelines.Environment, error)
}

// Streams manages weir's streams (Benthos pipelines): one stream actor per
// stream, the shared resources, and their durable record. Mutations of one
// id are handled one at a time; reads never wait for them. It implements the
// streams-mode API's needs (http.Streams) and CDAP usage lookups.
type Streams struct {
	env         *pipelines.Environment
	sys         *actor.ActorSystem
	sup         *actor.PID // the streams supervisor, parent of every stream actor
	log         zerolog.Logger
	stopTimeout time.Duration
	lookup      func(string) (string, bool)
	store       *streamsStore

	// setMu: POST /streams (the whole set) takes it exclusively, every
	// single-id mutation shares it.
	setMu sync.RWMutex

	mu      sync.Mutex
	entries map[string]*streamEntry
	idLocks map[string]*idLock
	res     map[resourceKey]storedResource
	closed  bool

	persistMu sync.Mutex
}

type resourceKey struct{ kind, id string }

type idLock struct {
	mu   sync.Mutex
	refs int
}

// streamEntry is one stream known to the manager.
type streamEntry struct {
	id     string
	pid    *actor.PID
	view   atomic.Pointer[streamView]
	stored storedStream
	echo   any
}

// NewStreams creates the stream manager of engine e and restores the stored
// resources and streams (unless Ephemeral). Call Close before stopping e.
func NewStreams(e *Engine, opts StreamsOptions) (*Streams, error) {
	mk := opts.Environment
	if mk == nil {
		mk = pipelines.NewEnvironment
	}
	env, err := mk(pipelines.Options{Topics: e, Logger: e.logger()})
	if err != nil {
		return nil, err
	}
	if err := e.Registry().Register(env.Collector()); err != nil {
		return nil, fmt.Errorf("register stream metrics: %w", err)
	}
	s := &Streams{
		env:         env,
		sys:         e.actorSystem(),
		log:         e.logger(),
		stopTimeout: opts.StopTimeout,
		lookup:      opts.Lookup,
		entries:     map[string]*streamEntry{},
		idLocks:     map[string]*idLock{},
		res:         map[resourceKey]storedResource{},
	}
	if s.sup, err = e.spawnChild(streamsSupervisorName, newStreamsSupervisorProps()); err != nil {
		return nil, fmt.Errorf("spawn streams supervisor: %w", err)
	}
	if s.stopTimeout <= 0 {
		s.stopTimeout = config.Default().Streams.StopTimeout.Std()
	}
	if s.lookup == nil {
		s.lookup = os.LookupEnv
	}
	if opts.Ephemeral {
		return s, nil
	}
	if s.store, err = openStreamsStore(e.sh.cfg.Storage.DataDir); err != nil {
		return nil, err
	}
	if err := s.restore(); err != nil {
		return nil, err
	}
	return s, nil
}

// Environment is the Benthos environment streams are built from.
func (s *Streams) Environment() *pipelines.Environment { return s.env }

// restore brings back resources first, then every stream (no lint, no env
// substitution). A stream that cannot be rebuilt is listed as failed.
func (s *Streams) restore() error {
	st, err := s.store.load()
	if err != nil {
		return err
	}
	for _, r := range st.Resources {
		s.res[resourceKey{r.Kind, r.ID}] = r
		p, err := s.env.ParseResource(r.Kind, r.ID, []byte(r.Config))
		if err == nil {
			err = s.env.SetResource(p)
		}
		if err != nil {
			s.log.Error().Err(err).Str("resource", r.ID).Str("kind", r.Kind).Msg("stored resource could not be rebuilt")
		}
	}
	var wg sync.WaitGroup
	for _, st := range st.Streams {
		ent := s.newEntry(st)
		if ent.echo == nil && st.Config != "" {
			ent.echo, _ = pipelines.Echo([]byte(st.Config))
		}
		s.entries[st.ID] = ent
		wg.Add(1)
		go func(ent *streamEntry) {
			defer wg.Done()
			p, err := s.env.ParseStream([]byte(ent.stored.Config))
			if err == nil {
				err = s.start(ent, p, s.stopTimeout)
			}
			if err != nil {
				s.log.Error().Err(err).Str("stream", ent.id).Msg("stored stream could not be rebuilt")
				reply := make(chan struct{})
				s.sys.Root.Send(ent.pid, &markStreamFailedReq{err: err.Error(), reply: reply})
				<-reply
			}
		}(ent)
	}
	wg.Wait()
	return nil
}

func (s *Streams) newEntry(st storedStream) *streamEntry {
	ent := &streamEntry{id: st.ID, stored: st}
	ent.echo, _ = pipelines.Echo([]byte(st.Config))
	ent.view.Store(&streamView{state: config.StreamStarting})
	reply := make(chan *actor.PID, 1)
	s.sys.Root.Send(s.sup, &spawnStreamReq{id: st.ID, props: newStreamActorProps(st.ID, s.env, s.log, &ent.view, s.stopTimeout), reply: reply})
	ent.pid = <-reply
	return ent
}

func (s *Streams) lockID(id string) func() {
	s.mu.Lock()
	l := s.idLocks[id]
	if l == nil {
		l = &idLock{}
		s.idLocks[id] = l
	}
	l.refs++
	s.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		s.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(s.idLocks, id)
		}
		s.mu.Unlock()
	}
}

func (s *Streams) entry(id string) *streamEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries[id]
}

func (s *Streams) timeoutOr(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return s.stopTimeout
}

// start asks the stream's actor to (re)start it from p and waits for the
// construction outcome.
func (s *Streams) start(ent *streamEntry, p *pipelines.PreparedStream, stopTimeout time.Duration) error {
	reply := make(chan error, 1)
	s.sys.Root.Send(ent.pid, &startStreamReq{prepared: p, stopTimeout: stopTimeout, reply: reply})
	return <-reply
}

func (s *Streams) stop(ent *streamEntry, timeout time.Duration) {
	reply := make(chan struct{})
	s.sys.Root.Send(ent.pid, &stopStreamReq{timeout: timeout, reply: reply})
	<-reply
}

// substitute applies env interpolation to a request body.
func (s *Streams) substitute(body []byte, chilled bool) ([]byte, error) {
	text, err := pipelines.Substitute(body, s.lookup, chilled)
	if err != nil {
		return nil, &config.StreamConfigError{Msg: err.Error()}
	}
	return text, nil
}

// check lints (unless chilled) and parses a substituted stream config.
func (s *Streams) check(text []byte, chilled bool) (*pipelines.PreparedStream, error) {
	p, err := s.env.CheckStream(text, chilled)
	return p, apiError(err)
}

// apiError converts pipelines' errors into the config error types the HTTP
// layer maps.
func apiError(err error) error {
	if err == nil {
		return nil
	}
	var le *pipelines.LintError
	var pe *pipelines.ParseError
	var be *pipelines.BuildError
	switch {
	case errors.As(err, &le):
		return &config.StreamLintError{Lints: lintStrings(le.Lints)}
	case errors.As(err, &pe):
		return &config.StreamConfigError{Msg: pe.Msg}
	case errors.As(err, &be):
		return &config.StreamBuildError{Msg: be.Msg}
	}
	return err
}

func lintStrings(ls []pipelines.Lint) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.String()
	}
	return out
}

// Create starts a new stream from a request body (POST /streams/{id}).
func (s *Streams) Create(ctx context.Context, id string, body []byte, chilled bool) error {
	text, err := s.substitute(body, chilled)
	if err != nil {
		return err
	}
	p, err := s.check(text, chilled)
	if err != nil {
		return err
	}
	s.setMu.RLock()
	defer s.setMu.RUnlock()
	unlock := s.lockID(id)
	defer unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return config.ErrUnavailable
	}
	if _, ok := s.entries[id]; ok {
		s.mu.Unlock()
		return config.ErrStreamExists
	}
	s.mu.Unlock()
	ent := s.newEntry(storedStream{ID: id, Config: string(text), Chilled: chilled})
	if err := s.start(ent, p, s.stopTimeout); err != nil {
		s.discard(ent)
		return apiError(err)
	}
	s.mu.Lock()
	s.entries[id] = ent
	s.mu.Unlock()
	if err := s.persist(); err != nil {
		s.mu.Lock()
		delete(s.entries, id)
		s.mu.Unlock()
		s.stop(ent, s.stopTimeout)
		s.discard(ent)
		return err
	}
	return nil
}

// discard stops an entry's actor (its incarnation, if any, was stopped or
// never started) and forgets its metrics.
func (s *Streams) discard(ent *streamEntry) {
	if v := ent.view.Load(); v != nil && v.run != nil {
		v.run.Stop(s.stopTimeout)
		s.env.Forget(ent.id, v.run)
	}
	_ = s.sys.Root.StopFuture(ent.pid).Wait()
}

// Replace swaps a stream's config (PUT /streams/{id}). If the new config
// fails to construct, the previous one is restarted and the error returned.
func (s *Streams) Replace(ctx context.Context, id string, body []byte, chilled bool, stopTimeout time.Duration) error {
	text, err := s.substitute(body, chilled)
	if err != nil {
		return err
	}
	p, err := s.check(text, chilled)
	if err != nil {
		return err
	}
	return s.update(id, storedStream{ID: id, Config: string(text), Chilled: chilled}, p, stopTimeout)
}

func (s *Streams) update(id string, st storedStream, p *pipelines.PreparedStream, stopTimeout time.Duration) error {
	s.setMu.RLock()
	defer s.setMu.RUnlock()
	unlock := s.lockID(id)
	defer unlock()
	ent := s.entry(id)
	if ent == nil {
		return config.ErrStreamNotFound
	}
	return s.updateLocked(ent, st, p, s.timeoutOr(stopTimeout))
}

func (s *Streams) updateLocked(ent *streamEntry, st storedStream, p *pipelines.PreparedStream, stopTimeout time.Duration) error {
	old := ent.stored
	if err := s.start(ent, p, stopTimeout); err != nil {
		s.revert(ent, old)
		return apiError(err)
	}
	s.mu.Lock()
	ent.stored = st
	ent.echo, _ = pipelines.Echo([]byte(st.Config))
	s.mu.Unlock()
	if err := s.persist(); err != nil {
		s.mu.Lock()
		ent.stored = old
		ent.echo, _ = pipelines.Echo([]byte(old.Config))
		s.mu.Unlock()
		s.revert(ent, old)
		return err
	}
	return nil
}

// revert restarts a stream from its previous stored config after a failed
// update; if even that fails the stream is left failed with the error.
func (s *Streams) revert(ent *streamEntry, old storedStream) {
	p, err := s.env.ParseStream([]byte(old.Config))
	if err == nil {
		err = s.start(ent, p, s.stopTimeout)
	}
	if err != nil {
		s.log.Error().Err(err).Str("stream", ent.id).Msg("previous config could not be restarted")
	}
}

// Patch deep-merges a YAML body into the stored config and restarts the
// stream with the result (PATCH /streams/{id}). No env substitution.
func (s *Streams) Patch(ctx context.Context, id string, body []byte, chilled bool, stopTimeout time.Duration) error {
	s.setMu.RLock()
	defer s.setMu.RUnlock()
	unlock := s.lockID(id)
	defer unlock()
	ent := s.entry(id)
	if ent == nil {
		return config.ErrStreamNotFound
	}
	var patch any
	if err := yaml.Unmarshal(body, &patch); err != nil {
		return &config.StreamConfigError{Msg: err.Error()}
	}
	s.mu.Lock()
	st := ent.stored
	echo := ent.echo
	s.mu.Unlock()
	text := []byte(st.Config)
	if pm, ok := normalisePatch(patch).(map[string]any); ok {
		merged := pipelines.MergePatch(echo, pm)
		var err error
		if text, err = pipelines.RenderYAML(merged); err != nil {
			return &config.StreamConfigError{Msg: err.Error()}
		}
	}
	p, err := s.check(text, chilled)
	if err != nil {
		return err
	}
	return s.updateLocked(ent, storedStream{ID: id, Config: string(text), Chilled: chilled || st.Chilled}, p, s.timeoutOr(stopTimeout))
}

func normalisePatch(v any) any {
	b, err := yaml.Marshal(v)
	if err != nil {
		return v
	}
	out, err := pipelines.Echo(b)
	if err != nil {
		return v
	}
	return out
}

// Delete stops and removes a stream (DELETE /streams/{id}).
func (s *Streams) Delete(ctx context.Context, id string, stopTimeout time.Duration) error {
	s.setMu.RLock()
	defer s.setMu.RUnlock()
	unlock := s.lockID(id)
	defer unlock()
	ent := s.entry(id)
	if ent == nil {
		return config.ErrStreamNotFound
	}
	s.stop(ent, s.timeoutOr(stopTimeout))
	s.mu.Lock()
	delete(s.entries, id)
	s.mu.Unlock()
	if err := s.persist(); err != nil {
		s.mu.Lock()
		s.entries[id] = ent
		s.mu.Unlock()
		s.revert(ent, ent.stored)
		return err
	}
	s.discard(ent)
	return nil
}

// SetAll replaces the whole set of streams (POST /streams): ids absent from
// the body are deleted, present ones restarted with their (possibly same)
// config, new ones created. Every config is checked first; if applying
// fails, the previous set is restored and the failures returned.
func (s *Streams) SetAll(ctx context.Context, body []byte, chilled bool, stopTimeout time.Duration) error {
	text, err := s.substitute(body, chilled)
	if err != nil {
		return err
	}
	set, err := pipelines.SplitStreamSet(text)
	if err != nil {
		return &config.StreamConfigError{Msg: err.Error()}
	}
	return s.setMembers(set, chilled, stopTimeout)
}

// SetConfigs replaces the whole set of streams with configs (id → raw
// config, e.g. the files given to `weir streams`), like SetAll.
func (s *Streams) SetConfigs(ctx context.Context, configs map[string][]byte, stopTimeout time.Duration) error {
	set := make(map[string]pipelines.SetMember, len(configs))
	for id, body := range configs {
		text, err := s.substitute(body, false)
		if err != nil {
			return fmt.Errorf("stream '%s': %w", id, err)
		}
		set[id] = pipelines.SetMember{Text: text, LintText: text}
	}
	return s.setMembers(set, false, stopTimeout)
}

func (s *Streams) setMembers(set map[string]pipelines.SetMember, chilled bool, stopTimeout time.Duration) error {
	ids := make([]string, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if !chilled {
		var lints []string
		for _, id := range ids {
			ls, err := s.env.LintStream(set[id].LintText)
			if err != nil {
				return &config.StreamConfigError{Msg: err.Error()}
			}
			for _, l := range ls {
				lints = append(lints, fmt.Sprintf("stream '%s': %s", id, l))
			}
		}
		if len(lints) > 0 {
			return &config.StreamLintError{Lints: lints}
		}
	}
	prepared := map[string]*pipelines.PreparedStream{}
	for _, id := range ids {
		p, err := s.env.ParseStream(set[id].Text)
		if err != nil {
			// Text is the member re-encoded on its own; Benthos reports
			// parse positions in the whole body, which LintText keeps.
			if _, lerr := s.env.ParseStream(set[id].LintText); lerr != nil {
				err = lerr
			}
			return apiError(err)
		}
		prepared[id] = p
	}
	return s.applySet(set, ids, prepared, chilled, s.timeoutOr(stopTimeout))
}

func (s *Streams) applySet(set map[string]pipelines.SetMember, ids []string, prepared map[string]*pipelines.PreparedStream, chilled bool, stopTimeout time.Duration) error {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return config.ErrUnavailable
	}
	var toDelete, toUpdate, toCreate []string
	for id := range s.entries {
		if _, ok := set[id]; !ok {
			toDelete = append(toDelete, id)
		}
	}
	for _, id := range ids {
		if _, ok := s.entries[id]; ok {
			toUpdate = append(toUpdate, id)
		} else {
			toCreate = append(toCreate, id)
		}
	}
	prevEntries := make(map[string]*streamEntry, len(s.entries))
	prevStored := map[string]storedStream{}
	for id, e := range s.entries {
		prevEntries[id] = e
		prevStored[id] = e.stored
	}
	s.mu.Unlock()
	sort.Strings(toDelete)

	var lines []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	fail := func(what string, err error) {
		mu.Lock()
		lines = append(lines, fmt.Sprintf("failed to %s stream: %v", what, err))
		mu.Unlock()
	}
	// Deletes, updates and creates run concurrently, as in Benthos; the
	// failure lines are ordered by kind, then id.
	updateErrs := make([]error, len(toUpdate))
	createErrs := make([]error, len(toCreate))
	created := make([]*streamEntry, len(toCreate))
	for _, id := range toDelete {
		wg.Add(1)
		go func(ent *streamEntry) {
			defer wg.Done()
			s.stop(ent, stopTimeout)
		}(prevEntries[id])
	}
	for i, id := range toUpdate {
		wg.Add(1)
		go func(i int, ent *streamEntry, p *pipelines.PreparedStream) {
			defer wg.Done()
			updateErrs[i] = s.start(ent, p, stopTimeout)
		}(i, prevEntries[id], prepared[id])
	}
	for i, id := range toCreate {
		wg.Add(1)
		go func(i int, id string) {
			defer wg.Done()
			ent := s.newEntry(storedStream{ID: id, Config: string(set[id].Text), Chilled: chilled})
			created[i] = ent
			createErrs[i] = s.start(ent, prepared[id], stopTimeout)
		}(i, id)
	}
	wg.Wait()
	for _, err := range updateErrs {
		if err != nil {
			fail("update", err)
		}
	}
	for _, err := range createErrs {
		if err != nil {
			fail("create", err)
		}
	}
	commit := func() {
		s.mu.Lock()
		for _, id := range toDelete {
			delete(s.entries, id)
		}
		for _, id := range toUpdate {
			ent := s.entries[id]
			ent.stored = storedStream{ID: id, Config: string(set[id].Text), Chilled: chilled}
			ent.echo, _ = pipelines.Echo(set[id].Text)
		}
		for _, ent := range created {
			s.entries[ent.id] = ent
		}
		s.mu.Unlock()
	}
	var perr error
	if len(lines) == 0 {
		commit()
		if perr = s.persist(); perr == nil {
			for _, id := range toDelete {
				s.discard(prevEntries[id])
			}
			return nil
		}
	}
	// Roll back: remove created, revert updated, re-create deleted.
	s.mu.Lock()
	s.entries = prevEntries
	for id, st := range prevStored {
		prevEntries[id].stored = st
		prevEntries[id].echo, _ = pipelines.Echo([]byte(st.Config))
	}
	s.mu.Unlock()
	for _, ent := range created {
		s.discard(ent)
	}
	for _, id := range append(append([]string{}, toUpdate...), toDelete...) {
		wg.Add(1)
		go func(ent *streamEntry) {
			defer wg.Done()
			s.revert(ent, ent.stored)
		}(prevEntries[id])
	}
	wg.Wait()
	if perr != nil {
		return perr
	}
	return &config.StreamSetError{Lines: lines}
}

// persist writes the current set of streams and resources durably.
func (s *Streams) persist() error {
	if s.store == nil {
		return nil
	}
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	s.mu.Lock()
	st := streamsState{Streams: make([]storedStream, 0, len(s.entries)), Resources: make([]storedResource, 0, len(s.res))}
	for _, e := range s.entries {
		st.Streams = append(st.Streams, e.stored)
	}
	for _, r := range s.res {
		st.Resources = append(st.Resources, r)
	}
	s.mu.Unlock()
	sort.Slice(st.Streams, func(i, j int) bool { return st.Streams[i].ID < st.Streams[j].ID })
	sort.Slice(st.Resources, func(i, j int) bool {
		if st.Resources[i].Kind != st.Resources[j].Kind {
			return st.Resources[i].Kind < st.Resources[j].Kind
		}
		return st.Resources[i].ID < st.Resources[j].ID
	})
	if err := s.store.save(st); err != nil {
		s.log.Error().Err(err).Msg("persisting streams failed")
		return &config.StreamBuildError{Msg: "persisting streams: " + err.Error()}
	}
	return nil
}

// SetResource creates or replaces a shared resource (POST
// /resources/{type}/{id}).
func (s *Streams) SetResource(ctx context.Context, kind, id string, body []byte, chilled bool) error {
	if !pipelines.IsResourceKind(kind) {
		return &config.InvalidResourceKind{Kind: kind}
	}
	text, err := s.substitute(body, chilled)
	if err != nil {
		return err
	}
	if !chilled {
		lints, err := s.env.LintResource(kind, text)
		if err != nil {
			return &config.StreamConfigError{Msg: err.Error()}
		}
		if len(lints) > 0 {
			return &config.StreamLintError{Lints: lintStrings(lints)}
		}
	}
	p, err := s.env.ParseResource(kind, id, text)
	if err != nil {
		return apiError(err)
	}
	s.setMu.RLock()
	defer s.setMu.RUnlock()
	unlock := s.lockID("\x00resource\x00" + kind + "\x00" + id)
	defer unlock()
	if err := s.env.SetResource(p); err != nil {
		return apiError(err)
	}
	key := resourceKey{kind, id}
	s.mu.Lock()
	prev, had := s.res[key]
	s.res[key] = storedResource{Kind: kind, ID: id, Config: string(text), Chilled: chilled}
	s.mu.Unlock()
	if err := s.persist(); err != nil {
		s.mu.Lock()
		if had {
			s.res[key] = prev
		} else {
			delete(s.res, key)
		}
		s.mu.Unlock()
		if had {
			if pp, perr := s.env.ParseResource(kind, id, []byte(prev.Config)); perr == nil {
				_ = s.env.SetResource(pp)
			}
		}
		return err
	}
	return nil
}

// List returns every stream's status (without configs).
func (s *Streams) List() map[string]config.StreamStatus {
	s.mu.Lock()
	ents := make([]*streamEntry, 0, len(s.entries))
	for _, e := range s.entries {
		ents = append(ents, e)
	}
	s.mu.Unlock()
	out := make(map[string]config.StreamStatus, len(ents))
	for _, e := range ents {
		out[e.id] = status(e.view.Load(), nil)
	}
	return out
}

func status(v *streamView, cfg any) config.StreamStatus {
	st := config.StreamStatus{State: v.state, LastError: v.lastErr, Config: cfg}
	st.Active = v.state == config.StreamStarting || v.state == config.StreamRunning
	if v.run != nil {
		st.Uptime = v.run.Uptime()
	}
	return st
}

// Get returns one stream's status with its stored config.
func (s *Streams) Get(id string) (config.StreamStatus, error) {
	s.mu.Lock()
	e := s.entries[id]
	var echo any
	if e != nil {
		echo = e.echo
	}
	s.mu.Unlock()
	if e == nil {
		return config.StreamStatus{}, config.ErrStreamNotFound
	}
	return status(e.view.Load(), echo), nil
}

// Stats returns the stream's metrics as the streams-mode stats object.
func (s *Streams) Stats(id string) (map[string]any, error) {
	e := s.entry(id)
	if e == nil {
		return nil, config.ErrStreamNotFound
	}
	if v := e.view.Load(); v.run != nil {
		return v.run.Stats(), nil
	}
	return map[string]any{"uptime_ns": 0}, nil
}

// Endpoint returns the handler of a stream's own HTTP endpoints (paths
// relative to /{id}), or nil when the stream is unknown or has none running.
func (s *Streams) Endpoint(id string) http.Handler {
	e := s.entry(id)
	if e == nil {
		return nil
	}
	if v := e.view.Load(); v.run != nil {
		return v.run.Handler()
	}
	return nil
}

// NotConnected lists active streams whose input or output is not connected,
// sorted.
func (s *Streams) NotConnected() []string {
	s.mu.Lock()
	ents := make([]*streamEntry, 0, len(s.entries))
	for _, e := range s.entries {
		ents = append(ents, e)
	}
	s.mu.Unlock()
	var out []string
	for _, e := range ents {
		v := e.view.Load()
		if v.run == nil || (v.state != config.StreamRunning && v.state != config.StreamStarting) {
			continue
		}
		select {
		case <-v.run.Ended():
			continue
		default:
		}
		if !v.run.Ready() {
			out = append(out, e.id)
		}
	}
	sort.Strings(out)
	return out
}

// TopicsUsed maps each stream id to the topics its `weir` inputs and outputs
// name (CDAP usage lookups), sorted and without duplicates.
func (s *Streams) TopicsUsed(ctx context.Context) (map[string][]config.TopicRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]config.TopicRef, len(s.entries))
	for id, e := range s.entries {
		out[id] = pipelines.TopicsUsed(e.echo)
	}
	return out, nil
}

// Close stops every stream within the default stop deadline, then the
// shared resources. The stored set is unchanged, so the next boot restores
// it. Call it before stopping the engine (inputs commit and leave groups).
func (s *Streams) Close(ctx context.Context) error {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	s.mu.Lock()
	s.closed = true
	ents := make([]*streamEntry, 0, len(s.entries))
	for _, e := range s.entries {
		ents = append(ents, e)
	}
	s.mu.Unlock()
	timeout := s.stopTimeout
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d < timeout {
			timeout = d
		}
	}
	if timeout <= 0 {
		timeout = time.Second
	}
	var wg sync.WaitGroup
	for _, e := range ents {
		wg.Add(1)
		go func(e *streamEntry) {
			defer wg.Done()
			s.stop(e, timeout)
			_ = s.sys.Root.StopFuture(e.pid).Wait()
		}(e)
	}
	wg.Wait()
	_ = s.sys.Root.StopFuture(s.sup).Wait()
	s.env.CloseResources(timeout)
	return nil
}

// Ended returns a channel closed when stream id's current incarnation ends
// (nil if the stream is unknown or not running): `weir run` exits with it.
func (s *Streams) Ended(id string) <-chan struct{} {
	e := s.entry(id)
	if e == nil {
		return nil
	}
	if v := e.view.Load(); v.run != nil {
		return v.run.Ended()
	}
	return nil
}
