package actors

import (
	"context"
	"errors"

	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/pipelines"
)

// CreatePipeline starts stream id from a config its caller has already
// checked and parsed, for `weir run`: a full Benthos config (logger, metrics,
// *_resources…) parsed by pipelines.Environment.ParsePipeline, which streams
// mode would reject. Such a config must never be stored and restored as a
// streams-mode config, so only an ephemeral manager accepts it.
func (s *Streams) CreatePipeline(ctx context.Context, id string, p *pipelines.PreparedStream) error {
	if s.store != nil {
		return errors.New("CreatePipeline needs an ephemeral stream manager")
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
	ent := s.newEntry(storedStream{ID: id, Config: string(p.Text)})
	if err := s.start(ent, p, s.stopTimeout); err != nil {
		s.discard(ent)
		return apiError(err)
	}
	s.mu.Lock()
	s.entries[id] = ent
	s.mu.Unlock()
	return nil
}
