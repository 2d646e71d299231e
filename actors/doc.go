// Package actors is weir's engine: the only package that imports
// protoactor-go. It owns the actor tree (manager → topic → partition actors,
// consumer-group actors and, in stream*.go, stream actors), the durable
// catalog of namespaces, topics and groups, and the Engine facade that every
// other package uses through plain context-and-error methods.
//
// Rules this package keeps: one owner per wal.Log (the partition actor);
// nothing blocks inside Receive on another actor (fan-outs use ReenterAfter
// or a goroutine that answers by message); a write error is never
// acknowledged; shutdown drains bottom-up (async queues, then partitions with
// a final fsync, then the actors themselves). No protoactor type, PID or
// future ever leaves the package.
package actors
