package config

import (
	"fmt"
	"strings"
	"time"
)

// Stream states (GET /streams/{id} "state").
const (
	StreamStarting = "starting"
	StreamRunning  = "running"
	StreamStopped  = "stopped"
	StreamFinished = "finished"
	StreamFailed   = "failed"
)

// StreamStatus describes one stream (a Benthos pipeline run by weir).
type StreamStatus struct {
	// Active is true while the stream is starting or running.
	Active bool
	// Uptime counts from the current incarnation's start and freezes when
	// it ends.
	Uptime time.Duration
	State  string
	// LastError is the error behind StreamFailed, otherwise "".
	LastError string
	// Config is the stored config as a plain value (nil for an empty one).
	Config any
}

// StreamLintError rejects a stream or resource config with lint findings,
// each rendered "(line,col) message".
type StreamLintError struct{ Lints []string }

func (e *StreamLintError) Error() string {
	return "lint errors: " + strings.Join(e.Lints, "; ")
}

// StreamConfigError is a stream or resource config that cannot be used as
// sent: environment, YAML or parse errors (a client mistake).
type StreamConfigError struct{ Msg string }

func (e *StreamConfigError) Error() string { return e.Msg }

// StreamBuildError is a config whose components could not be constructed or
// started, or a change that could not be persisted.
type StreamBuildError struct{ Msg string }

func (e *StreamBuildError) Error() string { return e.Msg }

// StreamSetError lists the per-stream failures of applying a whole set; the
// set was rolled back.
type StreamSetError struct{ Lines []string }

func (e *StreamSetError) Error() string { return strings.Join(e.Lines, "\n") }

// InvalidResourceKind is returned for a resource type other than cache,
// input, output, processor or rate_limit.
type InvalidResourceKind struct{ Kind string }

func (e *InvalidResourceKind) Error() string { return fmt.Sprintf("invalid resource type %q", e.Kind) }
