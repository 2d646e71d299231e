// Package pipelines embeds Benthos v4.27.0 into weir: it lints, parses, builds,
// runs and stops one stream incarnation, collects its per-stream metrics,
// reports its readiness, serves its HTTP endpoints, holds the shared resources
// (one holder per resource, proxies in every stream), and provides the `weir`
// input and output that connect streams to durable topics.
//
// It knows nothing about actors or HTTP routing: the stream lifecycle
// (restarts, persistence, serialising mutations) belongs to actors/, and topics
// are reached only through the small Topics interface declared here, which
// *actors.Engine satisfies. Every stream is built from an *Environment the
// caller owns, so tests and separate servers in one process never share
// registries.
package pipelines
