package actors

import (
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
)

// slogLogger routes protoactor's log/slog output into the engine's zerolog
// logger, so the process writes one log format.
func slogLogger(l zerolog.Logger) *slog.Logger {
	return slog.New(zerolog.NewSlogHandler(l.With().Str("lib", "protoactor").Logger()))
}

// logPanic is deferred at the top of every Receive: it logs a panic with its
// stack under the actor's logger and panics again so the supervisor still
// sees the failure and restarts the actor.
func logPanic(l zerolog.Logger, ctx actor.Context) {
	if r := recover(); r != nil {
		l.Error().Str("panic", fmt.Sprint(r)).Str("pid", ctx.Self().Id).
			Str("message_type", typeName(ctx.Message())).
			Bytes("stack", debug.Stack()).Msg("actor panicked; supervisor restarts it")
		panic(r)
	}
}

func typeName(v any) string {
	return fmt.Sprintf("%T", v)
}
