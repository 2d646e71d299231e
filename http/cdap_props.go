package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"

	"github.com/weirflow/weir/config"
)

// cdapErr is a CDAP answer decided by the HTTP layer: a status and the exact
// plain-text body the spec prescribes.
type cdapErr struct {
	status int
	msg    string
}

func (e *cdapErr) Error() string { return e.msg }

func cdapBadRequest(format string, args ...any) *cdapErr {
	return &cdapErr{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func invalidConfig(cause string) *cdapErr {
	return cdapBadRequest("Invalid stream configuration. Please check that the configuration is a valid JSON Object with a valid schema. Cause: %s", cause)
}

// formatSpec is a validated, normalised CDAP format: what TopicProps.Format
// stores (as JSON) and what records reads decode with.
type formatSpec struct {
	// name is echoed exactly as the client sent it ("CSV", a class name).
	name string
	kind formatKind
	// schema is the resolved schema (the format's default when none was sent).
	schema *cdapSchema
	// settings holds only what the client sent.
	settings map[string]string
}

// MarshalJSON writes {"name":…,"schema":…,"settings":{…}}, settings sorted.
func (f *formatSpec) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"name":`)
	cdapWriteString(&b, f.name)
	b.WriteString(`,"schema":`)
	f.schema.write(&b)
	b.WriteString(`,"settings":{`)
	keys := make([]string, 0, len(f.settings))
	for k := range f.settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		cdapWriteString(&b, k)
		b.WriteByte(':')
		cdapWriteString(&b, f.settings[k])
	}
	b.WriteString(`}}`)
	return b.Bytes(), nil
}

func defaultFormat() *formatSpec {
	return &formatSpec{name: "text", kind: fmtText, schema: textDefaultSchema(), settings: map[string]string{}}
}

// defaultFormatJSON is the default text spec, shown for topics without a format.
var defaultFormatJSON, _ = defaultFormat().MarshalJSON()

// formatRequest is a format object as parsed, before the format checks.
type formatRequest struct {
	name     *string
	schema   *cdapSchema
	settings map[string]string
}

// propsRequest is a parsed properties body; nil fields were absent.
type propsRequest struct {
	ttlSeconds  *int64
	format      *formatRequest
	threshold   *int64
	description *string
	principal   *string
}

// parsePropsBody parses and validates a properties body in the order of the
// spec's §5.2 table, returning the first failure. The returned format is the
// validated one when the body had a format.
func parsePropsBody(body []byte) (*propsRequest, *formatSpec, *cdapErr) {
	req, perr := parsePropsJSON(body)
	if perr != nil {
		return nil, nil, perr
	}
	if req.ttlSeconds != nil && *req.ttlSeconds < 0 {
		return nil, nil, cdapBadRequest("Invalid TTL %d. TTL value should be positive.", mulSaturating(*req.ttlSeconds, 1000))
	}
	var spec *formatSpec
	if req.format != nil {
		var ferr *cdapErr
		spec, ferr = validateFormat(req.format)
		if ferr != nil {
			return nil, nil, ferr
		}
	}
	if req.threshold != nil && *req.threshold <= 0 {
		return nil, nil, cdapBadRequest("Invalid threshold %d. Threshold value should be greater than zero.", *req.threshold)
	}
	if req.principal != nil && !validPrincipal(*req.principal) {
		return nil, nil, cdapBadRequest("Malformed Kerberos name: %s", *req.principal)
	}
	return req, spec, nil
}

// parsePropsJSON is check #1: the body is a JSON object whose known members
// have the right shapes.
func parsePropsJSON(body []byte) (*propsRequest, *cdapErr) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalidConfig("the request body is empty")
	}
	v, err := parseLenientJSON(body)
	if err != nil {
		return nil, invalidConfig(err.Error())
	}
	if v.kind != jObject {
		return nil, invalidConfig(fmt.Sprintf("expected a JSON object, got %s", v.kind))
	}
	req := &propsRequest{}
	if t, ok := v.get("ttl"); ok {
		if t.kind == jNull {
			return nil, invalidConfig("ttl must not be null")
		}
		n, err := jsonInt(t, 64)
		if err != nil {
			return nil, invalidConfig("ttl: " + err.Error())
		}
		req.ttlSeconds = &n
	}
	if f, ok := v.get("format"); ok && f.kind != jNull {
		fr, err := parseFormatObject(f)
		if err != nil {
			return nil, invalidConfig("format: " + err.Error())
		}
		req.format = fr
	}
	if t, ok := v.get("notification.threshold.mb"); ok {
		if t.kind == jNull {
			return nil, invalidConfig("notification.threshold.mb must not be null")
		}
		n, err := jsonInt(t, 32)
		if err != nil {
			return nil, invalidConfig("notification.threshold.mb: " + err.Error())
		}
		req.threshold = &n
	}
	for _, m := range []struct {
		key string
		dst **string
	}{{"description", &req.description}, {"principal", &req.principal}} {
		t, ok := v.get(m.key)
		if !ok {
			continue
		}
		if t.kind == jNull {
			return nil, invalidConfig(m.key + " must not be null")
		}
		s, err := jsonText(t)
		if err != nil {
			return nil, invalidConfig(m.key + ": " + err.Error())
		}
		*m.dst = &s
	}
	return req, nil
}

// parseFormatObject reads {"name","schema","settings"}; other keys are ignored.
func parseFormatObject(f *jvalue) (*formatRequest, error) {
	if f.kind != jObject {
		return nil, fmt.Errorf("expected an object, got %s", f.kind)
	}
	fr := &formatRequest{settings: map[string]string{}}
	if n, ok := f.get("name"); ok && n.kind != jNull {
		s, err := jsonText(n)
		if err != nil {
			return nil, fmt.Errorf("name: %w", err)
		}
		fr.name = &s
	}
	if sv, ok := f.get("schema"); ok && sv.kind != jNull {
		s, err := parseSchema(sv)
		if err != nil {
			return nil, err
		}
		fr.schema = s
	}
	if st, ok := f.get("settings"); ok && st.kind != jNull {
		if st.kind != jObject {
			return nil, fmt.Errorf("settings: expected an object, got %s", st.kind)
		}
		for i, k := range st.keys {
			val := st.vals[i]
			if val.kind == jNull {
				delete(fr.settings, k)
				continue
			}
			s, err := jsonText(val)
			if err != nil {
				return nil, fmt.Errorf("settings.%s: %w", k, err)
			}
			fr.settings[k] = s
		}
	}
	return fr, nil
}

// validateFormat is check #3: name, then schema, then settings (the order in
// which CDAP instantiates, initialises and configures a record format).
func validateFormat(fr *formatRequest) (*formatSpec, *cdapErr) {
	if fr.name == nil {
		return nil, cdapBadRequest("A format name must be specified.")
	}
	name := *fr.name
	kind, ok := resolveFormatName(name)
	if !ok {
		return nil, invalidFormat(name)
	}
	sch := fr.schema
	if sch == nil {
		sch = defaultSchemaFor(kind)
	}
	if err := checkFormatSchema(kind, sch); err != nil {
		return nil, cdapBadRequest("Format %s does not support the requested schema.", name)
	}
	spec := &formatSpec{name: name, kind: kind, schema: sch, settings: fr.settings}
	if _, err := spec.compile(); err != nil {
		return nil, invalidFormat(name)
	}
	return spec, nil
}

func invalidFormat(name string) *cdapErr {
	return cdapBadRequest("Invalid format, unable to instantiate format %s", name)
}

// compiledFormat is a format ready to decode bodies (records reads).
type compiledFormat struct {
	spec      *formatSpec
	charset   encoding.Encoding // nil = UTF-8
	delimiter string
	// mapping is field index → column index; nil = positional.
	mapping map[int]int
	// grok is the compiled pattern, or the reason it does not compile (then
	// every records read gives an error element, as the spec says).
	grok    *grokPattern
	grokErr error
	// writers caches parsed Avro writer schemas during one read.
	writers map[string]avroParsed
}

// compile checks the settings and prepares the decoder. Errors here are the
// "Invalid format" 400; a grok pattern that does not compile is not one.
func (f *formatSpec) compile() (*compiledFormat, error) {
	c := &compiledFormat{spec: f}
	if cs, ok := f.settings["charset"]; ok && (f.kind == fmtText || f.kind == fmtCSV || f.kind == fmtTSV) {
		enc, err := lookupCharset(cs)
		if err != nil {
			return nil, err
		}
		c.charset = enc
	}
	switch f.kind {
	case fmtCSV, fmtTSV:
		c.delimiter = ","
		if f.kind == fmtTSV {
			c.delimiter = "\t"
		}
		if d, ok := f.settings["delimiter"]; ok {
			if d == "" {
				return nil, errors.New("empty delimiter")
			}
			c.delimiter = d
		}
		if m, ok := f.settings["mapping"]; ok {
			mp, err := parseMapping(m, f.schema)
			if err != nil {
				return nil, err
			}
			c.mapping = mp
		}
	case fmtGrok, fmtSyslog:
		pat, ok := f.settings["pattern"]
		if !ok {
			pat = "%{GREEDYDATA:body}"
			if f.kind == fmtSyslog {
				pat = "%{SYSLOGLINE:syslogline}"
			}
		}
		c.grok, c.grokErr = compileGrok(pat)
	}
	return c, nil
}

// lookupCharset resolves a Java-style charset name. UTF-8 needs no decoder.
func lookupCharset(name string) (encoding.Encoding, error) {
	switch strings.ToLower(strings.ReplaceAll(name, "_", "-")) {
	case "utf8", "utf-8":
		return nil, nil
	}
	if enc, err := ianaindex.IANA.Encoding(name); err == nil && enc != nil {
		if enc == unicode.UTF8 {
			return nil, nil
		}
		return enc, nil
	}
	if enc, err := htmlindex.Get(name); err == nil && enc != nil {
		if enc == unicode.UTF8 {
			return nil, nil
		}
		return enc, nil
	}
	return nil, fmt.Errorf("unknown charset %q", name)
}

// parseStoredFormat reads TopicProps.Format back; nil/empty = default text.
func parseStoredFormat(raw json.RawMessage) (*formatSpec, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return defaultFormat(), nil
	}
	v, err := parseLenientJSON(raw)
	if err != nil {
		return nil, err
	}
	fr, err := parseFormatObject(v)
	if err != nil {
		return nil, err
	}
	spec, cerr := validateFormat(fr)
	if cerr != nil {
		return nil, cerr
	}
	return spec, nil
}

// validPrincipal applies Hadoop's KerberosName rule: a name with '@' must be
// primary[/instance]@realm with no '/' or '@' inside a part; "" is malformed.
func validPrincipal(p string) bool {
	if p == "" {
		return false
	}
	at := strings.IndexByte(p, '@')
	if at < 0 {
		return true
	}
	user, realm := p[:at], p[at+1:]
	if strings.ContainsAny(realm, "/@") {
		return false
	}
	primary, instance, hasInstance := strings.Cut(user, "/")
	if strings.Contains(primary, "@") {
		return false
	}
	return !hasInstance || !strings.ContainsAny(instance, "/@")
}

// principalMismatch compares a request's principal with the stream's.
func principalMismatch(id string, req, stored *string) *cdapErr {
	if req == nil && stored == nil {
		return nil
	}
	if req != nil && stored != nil && *req == *stored {
		return nil
	}
	p := "null"
	if req != nil {
		p = *req
	}
	return &cdapErr{status: http.StatusForbidden, msg: fmt.Sprintf(
		"STREAM '%s' already exists and the specified principal '%s' is not the same as the existing one. The principal of an entity cannot be changed.", id, p)}
}

// mulSaturating returns a*b clamped to the int64 range.
func mulSaturating(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	r := a * b
	if r/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		if (a < 0) != (b < 0) {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return r
}

// applyProps writes the request's present members over props (a copy).
func applyProps(props config.TopicProps, req *propsRequest, spec *formatSpec) (config.TopicProps, error) {
	if req.ttlSeconds != nil {
		props.TTLMillis = mulSaturating(*req.ttlSeconds, 1000)
	}
	if spec != nil {
		raw, err := spec.MarshalJSON()
		if err != nil {
			return props, err
		}
		props.Format = raw
	}
	if req.threshold != nil {
		props.NotificationThresholdMB = int32(*req.threshold)
	}
	if req.description != nil {
		d := *req.description
		props.Description = &d
	}
	if req.principal != nil {
		p := *req.principal
		props.Principal = &p
	}
	return props, nil
}

// renderProps writes GET …/streams/{id}: keys in the spec's order.
func renderProps(p config.TopicProps) []byte {
	var b bytes.Buffer
	b.WriteString(`{"ttl":`)
	b.WriteString(strconv.FormatInt(p.TTLMillis/1000, 10))
	b.WriteString(`,"format":`)
	writeStoredFormat(&b, p.Format)
	th := p.NotificationThresholdMB
	if th <= 0 {
		th = config.DefaultNotificationThresholdMB
	}
	b.WriteString(`,"notification.threshold.mb":`)
	b.WriteString(strconv.FormatInt(int64(th), 10))
	if p.Description != nil {
		b.WriteString(`,"description":`)
		cdapWriteString(&b, *p.Description)
	}
	if p.Principal != nil {
		b.WriteString(`,"principal":`)
		cdapWriteString(&b, *p.Principal)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// writeStoredFormat writes a stored format spec as compact JSON. The catalog
// may hand it back re-indented (it persists itself with indentation, and an
// embedded raw JSON value is indented with it), so it is compacted here
// rather than trusted to be one line; a spec that is not JSON any more is
// written from its parsed form.
func writeStoredFormat(b *bytes.Buffer, raw json.RawMessage) {
	if len(bytes.TrimSpace(raw)) == 0 {
		b.Write(defaultFormatJSON)
		return
	}
	n := b.Len()
	if err := json.Compact(b, raw); err == nil {
		return
	}
	b.Truncate(n)
	spec, err := parseStoredFormat(raw)
	if err != nil {
		spec = defaultFormat()
	}
	out, _ := spec.MarshalJSON()
	b.Write(out)
}
