// Package config is weir's leaf package: the weir.yaml settings with their
// defaults, environment interpolation, name validation, the domain value types
// shared by every other package (events, topic properties, consumer-group
// requests) and the sentinel errors that http/ maps to status codes.
//
// It must never import another weir package, protoactor, gin or Benthos: every
// other package depends on it, so anything heavy here is paid everywhere.
package config
