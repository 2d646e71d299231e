package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// LookupFunc finds an environment variable; os.LookupEnv is one.
type LookupFunc func(name string) (value string, ok bool)

// FieldError reports a problem with one weir.yaml key. Field is the dotted
// path ("storage.segment_size"); Line is the line in the file, 0 when the
// value did not come from a file (a default or a command-line flag).
type FieldError struct {
	Field string
	Line  int
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", e.Field, e.Line, e.Msg)
	}
	return e.Field + ": " + e.Msg
}

// Load reads the weir.yaml at path, interpolates ${VAR} and ${VAR:default}
// from the process environment, lays it over Default, applies overrides
// (command-line flags) and validates the result. An empty path means "no
// file": the defaults with the overrides, validated.
func Load(path string, overrides ...func(*Config)) (Config, error) {
	var data []byte
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
	}
	c, err := Parse(data, os.LookupEnv, overrides...)
	if err != nil && path != "" {
		return Config{}, &fileError{path: path, err: err}
	}
	return c, err
}

// fileError prefixes the file name. Unlike fmt.Errorf it builds its text when
// asked, so a caller may still annotate the *FieldErrors inside (the CLI adds
// the flag that supplied a bad value).
type fileError struct {
	path string
	err  error
}

func (e *fileError) Error() string { return "config " + e.path + ": " + e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// Parse decodes a weir.yaml body over Default, strictly: unknown keys,
// duplicate keys, values of the wrong type, unset variables without a default
// and invalid settings are all errors, each naming its field (errors.Join of
// *FieldError when there are several). lookup resolves ${VAR} references;
// nil means no variable is set. overrides run after decoding and before
// validation, so a flag can replace a bad value from the file. The body is
// untrusted input: Parse never panics on it.
func Parse(data []byte, lookup LookupFunc, overrides ...func(*Config)) (Config, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			return Config{}, fmt.Errorf("invalid YAML: %w", err)
		}
		// An empty file (or only comments) sets nothing.
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		// A second document (or garbage after the first) would otherwise be
		// silently ignored, and the user would wonder why it had no effect.
		return Config{}, errors.New("invalid YAML: weir.yaml must hold exactly one document")
	}
	d := decoder{lookup: lookup, lines: map[string]int{}}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	d.value(root, reflect.ValueOf(&c).Elem(), "")
	if len(d.errs) > 0 {
		return Config{}, errors.Join(d.errs...)
	}
	c.normalise()
	fromFile := c
	for _, o := range overrides {
		o(&c)
	}
	c.normalise()
	if err := c.Validate(); err != nil {
		// Point each validation error at the line that set the value, unless
		// an override replaced that value.
		var fe *FieldError
		for _, e := range unjoin(err) {
			if errors.As(e, &fe) && fe.Line == 0 && sameField(c, fromFile, fe.Field) {
				fe.Line = d.lines[fe.Field]
			}
		}
		return Config{}, err
	}
	return c, nil
}

// sameField reports whether the dotted yaml key has the same value in a and b.
func sameField(a, b Config, path string) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for _, key := range strings.Split(path, ".") {
		idx, ok := yamlFields(va.Type())[key]
		if !ok {
			return false
		}
		va, vb = va.Field(idx), vb.Field(idx)
	}
	return va.Interface() == vb.Interface()
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// decoder walks the YAML node tree beside the Config struct. Walking it
// ourselves (instead of yaml's Decode) lets every error carry the dotted key
// and line, and lets interpolation happen inside scalar values only, so an
// environment variable can never inject YAML structure.
type decoder struct {
	lookup LookupFunc
	errs   []error
	depth  int
	lines  map[string]int // dotted key -> line of its value
}

var (
	byteSizeType = reflect.TypeOf(ByteSize(0))
	durationType = reflect.TypeOf(Duration(0))
)

func (d *decoder) fail(n *yaml.Node, field, format string, args ...any) {
	name := field
	if name == "" {
		name = "weir.yaml"
	}
	d.errs = append(d.errs, &FieldError{Field: name, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) value(n *yaml.Node, out reflect.Value, field string) {
	// Aliases can point at each other; the Config struct is two levels deep,
	// so any chain longer than a few links is not a real configuration.
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > 8 {
		d.fail(n, field, "YAML nesting or aliases too deep")
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.fail(n, field, "unresolved YAML alias")
			return
		}
		d.value(n.Alias, out, field)
		return
	}
	if isNull(n) {
		return // an explicit null or an empty value keeps the default
	}
	if out.Kind() == reflect.Struct {
		d.mapping(n, out, field)
		return
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, field, "must be a single value, not a %s", kindName(n.Kind))
		return
	}
	s, err := ExpandEnv(n.Value, d.lookup)
	if err != nil {
		d.fail(n, field, "%v", err)
		return
	}
	if s == "" && n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) == 0 && s != n.Value {
		return // ${VAR:} with nothing set: unset, keep the default
	}
	if err := setScalar(out, s); err != nil {
		d.fail(n, field, "%v", err)
	}
}

func (d *decoder) mapping(n *yaml.Node, out reflect.Value, field string) {
	if n.Kind != yaml.MappingNode {
		what := "the top level"
		if field != "" {
			what = "a section"
		}
		d.fail(n, field, "%s must be a mapping of keys, not a %s", what, kindName(n.Kind))
		return
	}
	fields := yamlFields(out.Type())
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, field, "keys must be plain names, not a %s", kindName(k.Kind))
			continue
		}
		path := k.Value
		if field != "" {
			path = field + "." + k.Value
		}
		idx, ok := fields[k.Value]
		if !ok {
			d.fail(k, path, "unknown field (known fields here: %s)", knownFields(fields))
			continue
		}
		if seen[k.Value] {
			d.fail(k, path, "set more than once")
			continue
		}
		seen[k.Value] = true
		d.lines[path] = v.Line
		d.value(v, out.Field(idx), path)
	}
}

func isNull(n *yaml.Node) bool {
	if n.Kind == 0 {
		return true // an empty document
	}
	if n.Kind != yaml.ScalarNode || n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return false
	}
	switch n.Value {
	case "", "~", "null", "Null", "NULL":
		return true
	}
	return false
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	case yaml.DocumentNode:
		return "document"
	case yaml.AliasNode:
		return "alias"
	}
	return "node"
}

// yamlFields maps a struct's yaml keys to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" {
			continue
		}
		m[name] = i
	}
	return m
}

func knownFields(fields map[string]int) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// setScalar stores one interpolated scalar in a leaf field.
func setScalar(out reflect.Value, s string) error {
	switch out.Type() {
	case byteSizeType:
		b, err := ParseByteSize(s)
		if err != nil {
			return err
		}
		out.SetInt(int64(b))
		return nil
	case durationType:
		dur, err := ParseDuration(s)
		if err != nil {
			return err
		}
		out.SetInt(int64(dur))
		return nil
	}
	switch out.Kind() {
	case reflect.String:
		out.SetString(s)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, out.Type().Bits())
		if err != nil {
			return fmt.Errorf("must be a whole number, got %q", s)
		}
		out.SetInt(v)
	case reflect.Bool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			out.SetBool(true)
		case "false":
			out.SetBool(false)
		default:
			return fmt.Errorf("must be true or false, got %q", s)
		}
	default:
		return fmt.Errorf("unsupported setting type %s", out.Type())
	}
	return nil
}

// ExpandEnv replaces ${VAR} and ${VAR:default} in s. A variable that is set
// to the empty string counts as unset (as in Benthos), so its default
// applies. A reference to an unset variable without a default is an error,
// as is a malformed reference ("${", "${}" or a name outside [A-Za-z0-9_.]).
// The default runs to the first "}" and may contain ":" (an address).
//
// This is weir.yaml's interpolation, applied to single scalar values after
// parsing. Stream configs use pipelines.Substitute instead, which follows
// Benthos on the whole text (the ${{...}} escape, an empty variable without
// a default is "", unset names reported together); the two differ on
// purpose and must not be merged.
func ExpandEnv(s string, lookup LookupFunc) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		rest := s[i+2:]
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated variable reference %q", s[i:])
		}
		ref := rest[:end]
		name, def, hasDef := strings.Cut(ref, ":")
		if !validVarName(name) {
			return "", fmt.Errorf("invalid variable reference ${%s}: a name is [A-Za-z0-9_.]+", ref)
		}
		v, ok := lookup(name)
		switch {
		case ok && v != "":
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		default:
			return "", fmt.Errorf("environment variable %s is not set (or empty) and has no default; write ${%s:default}", name, name)
		}
		s = rest[end+1:]
	}
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// byteUnits are the suffixes ParseByteSize accepts (case-insensitive).
// KB/MB/GB/TB are decimal and KiB/MiB/GiB/TiB binary, as their names say.
var byteUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"tb":  1000 * 1000 * 1000 * 1000,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
	"tib": 1 << 40,
}

// ParseByteSize parses a size: a whole number of bytes, optionally followed
// by a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB; case-insensitive; a space
// between is allowed). Fractions and negative sizes are errors.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid size %q: want a whole number of bytes with an optional unit (e.g. 8MiB)", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: number too large", s)
	}
	unit := strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := byteUnits[unit]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", s, t[i:])
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return ByteSize(n * mult), nil
}

// ParseDuration parses a Go duration ("30s", "1m30s", "200ms"). A bare
// number other than 0 is an error: seconds or milliseconds would be a guess.
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	dur, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want a number with a unit, e.g. 30s, 200ms, 5m", s)
	}
	if dur < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return Duration(dur), nil
}

// String writes b in the largest binary unit that divides it exactly, so it
// parses back to the same value ("8MiB", "1000", "0").
func (b ByteSize) String() string {
	for _, u := range []struct {
		n    ByteSize
		name string
	}{{1 << 40, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
		if b != 0 && b%u.n == 0 {
			return strconv.FormatInt(int64(b/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// String writes d as time.Duration does ("30s", "1m0s").
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML lets other packages' YAML hold sizes too.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a size must be a single value", n.Line)
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// MarshalYAML writes the form String gives, and a bare number of bytes as a
// YAML integer.
func (b ByteSize) MarshalYAML() (any, error) {
	s := b.String()
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return int64(b), nil
	}
	return s, nil
}

// UnmarshalYAML lets other packages' YAML hold durations too.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be a single value", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalYAML writes the form String gives.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Limits that Validate enforces.
const (
	MinSegmentSize   = 64 * KiB
	MaxSegmentSize   = 1 * GiB
	MaxPartitions    = 1024
	minRetentionTick = 10 * time.Millisecond
)

// LogLevels are the accepted log.level values.
var LogLevels = []string{"trace", "debug", "info", "warn", "error"}

// LogFormats are the accepted log.format values.
var LogFormats = []string{"auto", "json", "console"}

// normalise puts case-insensitive enums into their canonical spelling.
func (c *Config) normalise() {
	c.Log.Level = strings.ToLower(strings.TrimSpace(c.Log.Level))
	c.Log.Format = strings.ToLower(strings.TrimSpace(c.Log.Format))
}

// Validate checks every setting and returns one *FieldError per problem
// (joined). Callers that change a loaded Config (command-line flags) call it
// again before use.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	positive := func(field string, d Duration) {
		if d <= 0 {
			bad(field, "must be greater than 0")
		}
	}
	atLeast := func(field string, v, min int64, what string) {
		if v < min {
			bad(field, "must be at least %s, got %d", what, v)
		}
	}

	if err := validateAddr(c.Server.Addr); err != nil {
		bad("server.addr", "%v", err)
	}
	positive("server.request_timeout", c.Server.RequestTimeout)
	positive("server.shutdown_timeout", c.Server.ShutdownTimeout)

	if !oneOf(strings.ToLower(c.Log.Level), LogLevels) {
		bad("log.level", "must be one of %s, got %q", strings.Join(LogLevels, ", "), c.Log.Level)
	}
	if !oneOf(strings.ToLower(c.Log.Format), LogFormats) {
		bad("log.format", "must be one of %s, got %q", strings.Join(LogFormats, ", "), c.Log.Format)
	}

	if strings.TrimSpace(c.Storage.DataDir) == "" {
		bad("storage.data_dir", "must not be empty")
	}
	if c.Storage.SegmentSize < MinSegmentSize || c.Storage.SegmentSize > MaxSegmentSize {
		bad("storage.segment_size", "must be between %s and %s, got %s", MinSegmentSize, MaxSegmentSize, c.Storage.SegmentSize)
	}
	if c.Storage.DefaultPartitions < 1 || c.Storage.DefaultPartitions > MaxPartitions {
		bad("storage.default_partitions", "must be between 1 and %d, got %d", MaxPartitions, c.Storage.DefaultPartitions)
	}
	if c.Storage.RetentionInterval.Std() < minRetentionTick {
		bad("storage.retention_interval", "must be at least %s, got %s", minRetentionTick, c.Storage.RetentionInterval)
	}
	atLeast("storage.max_inflight_appends", int64(c.Storage.MaxInflightAppends), 1, "1")
	if c.Storage.MaxBytes < 0 {
		bad("storage.max_bytes", "must not be negative")
	} else if c.Storage.MaxBytes > 0 && c.Storage.MaxBytes < c.Storage.SegmentSize {
		// Retention removes whole sealed segments, so a bound below one
		// segment could never be met.
		bad("storage.max_bytes", "must be 0 (unbounded) or at least storage.segment_size (%s), got %s", c.Storage.SegmentSize, c.Storage.MaxBytes)
	}

	atLeast("cdap.max_event_size", int64(c.CDAP.MaxEventSize), 1, "1 byte")
	atLeast("cdap.max_batch_size", int64(c.CDAP.MaxBatchSize), 1, "1 byte")
	atLeast("cdap.async_queue_size", int64(c.CDAP.AsyncQueueSize), 1, "1")

	ports := map[int]string{}
	for _, p := range []struct {
		field string
		port  int
	}{
		{"polarstreams.discovery_port", c.PolarStreams.DiscoveryPort},
		{"polarstreams.producer_port", c.PolarStreams.ProducerPort},
		{"polarstreams.consumer_port", c.PolarStreams.ConsumerPort},
	} {
		if p.port < 0 || p.port > 65535 {
			bad(p.field, "must be a port 0-65535 (0 picks a free port), got %d", p.port)
			continue
		}
		if c.PolarStreams.DedicatedListeners && p.port != 0 {
			if other, dup := ports[p.port]; dup {
				bad(p.field, "port %d is also %s", p.port, other)
			}
			ports[p.port] = p.field
		}
	}
	if strings.ContainsAny(c.PolarStreams.AdvertisedHost, ":/ ") {
		bad("polarstreams.advertised_host", "must be a host name or address without a port, got %q", c.PolarStreams.AdvertisedHost)
	}
	atLeast("polarstreams.max_message_size", int64(c.PolarStreams.MaxMessageSize), 1, "1 byte")
	positive("polarstreams.consumer_timeout", c.PolarStreams.ConsumerTimeout)

	positive("streams.stop_timeout", c.Streams.StopTimeout)
	atLeast("streams.max_body_size", int64(c.Streams.MaxBodySize), 1, "1 byte")

	return errors.Join(errs...)
}

func validateAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port (e.g. 127.0.0.1:4195, :4195), got %q", addr)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("invalid host %q", host)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("port must be 0-65535 (0 picks a free port), got %q", port)
	}
	return nil
}

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}
