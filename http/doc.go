// Package http serves weir's REST APIs on one listener: the Benthos streams
// mode API, the CDAP Stream API v3, the PolarStreams API and weir's own routes.
// Each family has its own gin engine (its own 404/405 conventions) behind a
// small path dispatcher, one file per family, and one error mapping
// (errors.go) that turns the sentinel errors of config/ into each family's
// exact statuses and bodies.
//
// Handlers bind, call the Engine (declared in engine.go), and render. This
// package never imports actors/ or protoactor; importers alias it as api.
package http
