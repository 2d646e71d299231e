package actors

import (
	"context"
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/weirflow/weir/config"
)

// failure is the reply an actor sends instead of its success type.
type failure struct {
	err error
}

// errStopped marks an answer protoactor gave for a message that reached no
// actor (a dead letter): the message was not processed, so a caller may
// safely resend it elsewhere. It is wrapped with config.ErrUnavailable.
var errStopped = errors.New("actor stopped")

// mapActorErr turns protoactor's future errors into weir's sentinels so that
// callers never see a protoactor type: a timeout is ErrTimeout, a message
// to a stopped actor is ErrUnavailable.
func mapActorErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, actor.ErrTimeout):
		return fmt.Errorf("%w: %s", config.ErrTimeout, what)
	case errors.Is(err, actor.ErrDeadLetter):
		return fmt.Errorf("%w: %s: %w", config.ErrUnavailable, what, errStopped)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %s: %v", config.ErrTimeout, what, err)
	}
	return err
}

// replyErr extracts the error of a reply: a *failure, or nil for anything
// else.
func replyErr(res any) error {
	if f, ok := res.(*failure); ok {
		return f.err
	}
	return nil
}
