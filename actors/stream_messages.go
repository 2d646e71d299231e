package actors

import (
	"time"

	"github.com/weirflow/weir/pipelines"
)

// startStreamReq replaces the stream's incarnation with one built from
// prepared (stopping the current one within stopTimeout first); reply gets
// the construction error or nil.
type startStreamReq struct {
	prepared    *pipelines.PreparedStream
	stopTimeout time.Duration
	reply       chan error
}

// stopStreamReq stops the current incarnation; reply is closed when done.
type stopStreamReq struct {
	timeout time.Duration
	reply   chan struct{}
}

// markStreamFailedReq records a stream that could not be rebuilt at boot.
type markStreamFailedReq struct {
	err   string
	reply chan struct{}
}

// streamOpDone reports the end of a start or stop done in a goroutine.
type streamOpDone struct {
	run      *pipelines.Running
	err      error
	prepared *pipelines.PreparedStream
	reply    chan error
	restart  bool

	stop   bool
	failed bool
	replyS chan struct{}
}

// streamEnded reports that an incarnation's Run returned.
type streamEnded struct{ run *pipelines.Running }

// streamPanicked reports a recovered plugin panic in an incarnation.
type streamPanicked struct{ ref *runRef }

// streamRetry restarts the stream after a panic backoff; stale generations
// are ignored.
type streamRetry struct{ gen int }
