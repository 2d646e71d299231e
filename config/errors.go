package config

import "errors"

// Sentinel errors. Packages wrap them with fmt.Errorf("...: %w", Err...) to add
// detail; http/ maps them to status codes in one place (errors.Is).
var (
	// ErrInvalidName is returned when a namespace, topic or group name breaks
	// the naming rules (see ValidateNamespace, ValidateTopic).
	ErrInvalidName = errors.New("invalid name")
	// ErrInvalidArgument is returned for any other malformed request value.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNamespaceNotFound is returned when a namespace does not exist.
	ErrNamespaceNotFound = errors.New("namespace not found")
	// ErrNamespaceExists is returned when creating a namespace that exists.
	ErrNamespaceExists = errors.New("namespace already exists")
	// ErrNamespaceProtected is returned when deleting the default namespace.
	ErrNamespaceProtected = errors.New("namespace cannot be deleted")
	// ErrTopicNotFound is returned when a topic does not exist.
	ErrTopicNotFound = errors.New("topic not found")
	// ErrTopicExists is returned when creating a topic that exists.
	ErrTopicExists = errors.New("topic already exists")
	// ErrPartitionNotFound is returned for a partition index outside 0..P-1.
	ErrPartitionNotFound = errors.New("partition not found")
	// ErrNotMember is returned by group operations for a consumer that is not
	// (or no longer) registered: unknown, timed out, or said goodbye.
	ErrNotMember = errors.New("consumer not registered")
	// ErrMemberConflict is returned when a consumer id registers again with a
	// different group or topic set.
	ErrMemberConflict = errors.New("consumer already registered with different parameters")
	// ErrBusy is returned when a partition's in-flight append cap is reached.
	ErrBusy = errors.New("partition busy")
	// ErrTimeout is returned when a request's deadline passes before the
	// engine answers. The operation may or may not have taken effect.
	ErrTimeout = errors.New("engine request timed out")
	// ErrUnavailable is returned while the engine is stopping or stopped.
	ErrUnavailable = errors.New("engine unavailable")
	// ErrStorage is returned when the disk failed (write, fsync, read). Nothing
	// that returned ErrStorage was acknowledged.
	ErrStorage = errors.New("storage failure")
	// ErrTooLarge is returned when a request body exceeds its configured limit.
	ErrTooLarge = errors.New("request body too large")
	// ErrStreamNotFound is returned when a pipeline (Benthos stream) id is unknown.
	ErrStreamNotFound = errors.New("stream not found")
	// ErrStreamExists is returned when creating a pipeline whose id exists.
	ErrStreamExists = errors.New("stream already exists")
)
