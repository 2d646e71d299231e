// Package examples holds runnable weir configurations and a complete
// custom-processor plugin (examples/plugin) with its own main. Everything
// here is exercised by tests, so the examples cannot rot.
package examples
