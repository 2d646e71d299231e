package actors

import (
	"errors"

	"github.com/asynkron/protoactor-go/actor"
)

// streamsSupervisorName names the actor that owns every stream actor, so one
// supervisor (and one Stop) covers them all: streams/<id> in DESIGN's tree.
const streamsSupervisorName = "streams"

// streamsSupervisor is the parent of the stream actors. It does nothing but
// spawn them on request: a child's panic is handled by this actor's
// supervisor strategy (restart, as for the other children in the tree), and
// stopping this actor stops every stream actor left.
type streamsSupervisor struct{}

// spawnStreamReq asks the supervisor to spawn one stream actor as its child;
// reply gets its PID.
type spawnStreamReq struct {
	id    string
	props *actor.Props
	reply chan *actor.PID
}

func newStreamsSupervisorProps() *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &streamsSupervisor{} },
		actor.WithSupervisor(actor.NewRestartingStrategy()))
}

func (*streamsSupervisor) Receive(ctx actor.Context) {
	if msg, ok := ctx.Message().(*spawnStreamReq); ok {
		// The child is named after the stream id (pid "streams/<id>").
		// The previous actor of a reused id is stopped first, but that
		// wait is bounded (StopFuture's timeout), so its name may still be
		// registered: never fail a create for that, take a unique name.
		pid, err := ctx.SpawnNamed(msg.props, msg.id)
		if errors.Is(err, actor.ErrNameExists) {
			pid = ctx.SpawnPrefix(msg.props, msg.id+"-")
		}
		msg.reply <- pid
	}
}
