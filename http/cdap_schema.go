package http

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
)

// CDAP schemas are a JSON dialect close to Avro (spec §8): type names are
// case-insensitive on input, unknown keys are ignored, and a bare string can
// name an enclosing record (recursion). weir parses them into a small tree,
// validates that tree per format, and serialises it back in the canonical
// output form (lower-case names; keys type, then name/symbols/items/keys/
// values, then fields), which is what GET …/streams/{id} shows.

// schemaKind names a schema node's type.
type schemaKind string

const (
	kNull    schemaKind = "null"
	kBoolean schemaKind = "boolean"
	kInt     schemaKind = "int"
	kLong    schemaKind = "long"
	kFloat   schemaKind = "float"
	kDouble  schemaKind = "double"
	kBytes   schemaKind = "bytes"
	kString  schemaKind = "string"
	kRecord  schemaKind = "record"
	kArray   schemaKind = "array"
	kMap     schemaKind = "map"
	kEnum    schemaKind = "enum"
	kUnion   schemaKind = "union"
	// kRef is a bare record name pointing at an enclosing record.
	kRef schemaKind = "ref"
)

var simpleKinds = map[schemaKind]bool{
	kNull: true, kBoolean: true, kInt: true, kLong: true, kFloat: true, kDouble: true, kBytes: true, kString: true,
}

// cdapSchema is one node of a CDAP schema.
type cdapSchema struct {
	kind    schemaKind
	name    string        // record name, or the referenced name for kRef
	fields  []schemaField // record
	items   *cdapSchema   // array
	keys    *cdapSchema   // map
	values  *cdapSchema   // map
	symbols []string      // enum
	union   []*cdapSchema // union members
	// target is the record a kRef points at, set while parsing.
	target *cdapSchema
}

type schemaField struct {
	name string
	typ  *cdapSchema
}

// maxSchemaDepth bounds schema nesting (the JSON parser bounds it too; this
// keeps the recursive walkers safe on any tree built by hand).
const maxSchemaDepth = 64

// errSchema marks a malformed schema: the properties check #1 (invalid
// configuration) rather than a format's rejection.
var errSchema = errors.New("invalid schema")

// parseSchema reads a schema from its lenient JSON value.
func parseSchema(v *jvalue) (*cdapSchema, error) {
	return parseSchemaNode(v, nil, 0)
}

func parseSchemaNode(v *jvalue, enclosing []*cdapSchema, depth int) (*cdapSchema, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("%w: nested too deep", errSchema)
	}
	switch v.kind {
	case jString:
		return namedType(v.text, enclosing)
	case jArray:
		if len(v.arr) == 0 {
			return nil, fmt.Errorf("%w: empty union", errSchema)
		}
		u := &cdapSchema{kind: kUnion}
		for _, m := range v.arr {
			s, err := parseSchemaNode(m, enclosing, depth+1)
			if err != nil {
				return nil, err
			}
			u.union = append(u.union, s)
		}
		return u, nil
	case jObject:
		t, ok := v.get("type")
		if !ok || t.kind == jNull {
			return nil, fmt.Errorf("%w: missing type", errSchema)
		}
		if t.kind != jString {
			// {"type": {...}} or {"type": [...]}: the type is itself a schema.
			return parseSchemaNode(t, enclosing, depth+1)
		}
		switch k := schemaKind(strings.ToLower(t.text)); k {
		case kRecord:
			return parseRecord(v, enclosing, depth)
		case kArray:
			items, ok := v.get("items")
			if !ok {
				return nil, fmt.Errorf("%w: array without items", errSchema)
			}
			is, err := parseSchemaNode(items, enclosing, depth+1)
			if err != nil {
				return nil, err
			}
			return &cdapSchema{kind: kArray, items: is}, nil
		case kMap:
			kv, ok1 := v.get("keys")
			vv, ok2 := v.get("values")
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%w: map needs keys and values", errSchema)
			}
			ks, err := parseSchemaNode(kv, enclosing, depth+1)
			if err != nil {
				return nil, err
			}
			vs, err := parseSchemaNode(vv, enclosing, depth+1)
			if err != nil {
				return nil, err
			}
			return &cdapSchema{kind: kMap, keys: ks, values: vs}, nil
		case kEnum:
			sv, ok := v.get("symbols")
			if !ok || sv.kind != jArray || len(sv.arr) == 0 {
				return nil, fmt.Errorf("%w: enum needs symbols", errSchema)
			}
			e := &cdapSchema{kind: kEnum}
			seen := map[string]bool{}
			for _, s := range sv.arr {
				if s.kind != jString {
					return nil, fmt.Errorf("%w: enum symbol must be a string", errSchema)
				}
				if seen[s.text] {
					return nil, fmt.Errorf("%w: duplicate enum symbol %q", errSchema, s.text)
				}
				seen[s.text] = true
				e.symbols = append(e.symbols, s.text)
			}
			return e, nil
		default:
			if simpleKinds[k] {
				return &cdapSchema{kind: k}, nil
			}
			return namedType(t.text, enclosing)
		}
	}
	return nil, fmt.Errorf("%w: a schema cannot be a %s", errSchema, v.kind)
}

func namedType(name string, enclosing []*cdapSchema) (*cdapSchema, error) {
	if k := schemaKind(strings.ToLower(name)); simpleKinds[k] {
		return &cdapSchema{kind: k}, nil
	}
	for i := len(enclosing) - 1; i >= 0; i-- {
		if enclosing[i].name == name {
			return &cdapSchema{kind: kRef, name: name, target: enclosing[i]}, nil
		}
	}
	return nil, fmt.Errorf("%w: unknown type %q", errSchema, name)
}

func parseRecord(v *jvalue, enclosing []*cdapSchema, depth int) (*cdapSchema, error) {
	nv, ok := v.get("name")
	if !ok || nv.kind != jString || nv.text == "" {
		return nil, fmt.Errorf("%w: record without a name", errSchema)
	}
	fv, ok := v.get("fields")
	if !ok || fv.kind != jArray || len(fv.arr) == 0 {
		return nil, fmt.Errorf("%w: record %q without fields", errSchema, nv.text)
	}
	r := &cdapSchema{kind: kRecord, name: nv.text}
	enclosing = append(enclosing, r)
	seen := map[string]bool{}
	for _, f := range fv.arr {
		if f.kind != jObject {
			return nil, fmt.Errorf("%w: a field must be an object", errSchema)
		}
		fn, ok := f.get("name")
		if !ok || fn.kind != jString || fn.text == "" {
			return nil, fmt.Errorf("%w: field without a name in record %q", errSchema, r.name)
		}
		if seen[fn.text] {
			return nil, fmt.Errorf("%w: duplicate field %q in record %q", errSchema, fn.text, r.name)
		}
		seen[fn.text] = true
		ft, ok := f.get("type")
		if !ok {
			return nil, fmt.Errorf("%w: field %q without a type", errSchema, fn.text)
		}
		ts, err := parseSchemaNode(ft, enclosing, depth+1)
		if err != nil {
			return nil, err
		}
		r.fields = append(r.fields, schemaField{name: fn.text, typ: ts})
	}
	return r, nil
}

// MarshalJSON writes the canonical output form.
func (s *cdapSchema) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	s.write(&b)
	return b.Bytes(), nil
}

func (s *cdapSchema) String() string {
	var b bytes.Buffer
	s.write(&b)
	return b.String()
}

func (s *cdapSchema) write(b *bytes.Buffer) {
	switch s.kind {
	case kRecord:
		b.WriteString(`{"type":"record","name":`)
		cdapWriteString(b, s.name)
		b.WriteString(`,"fields":[`)
		for i, f := range s.fields {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"name":`)
			cdapWriteString(b, f.name)
			b.WriteString(`,"type":`)
			f.typ.write(b)
			b.WriteByte('}')
		}
		b.WriteString(`]}`)
	case kArray:
		b.WriteString(`{"type":"array","items":`)
		s.items.write(b)
		b.WriteByte('}')
	case kMap:
		b.WriteString(`{"type":"map","keys":`)
		s.keys.write(b)
		b.WriteString(`,"values":`)
		s.values.write(b)
		b.WriteByte('}')
	case kEnum:
		b.WriteString(`{"type":"enum","symbols":[`)
		for i, sym := range s.symbols {
			if i > 0 {
				b.WriteByte(',')
			}
			cdapWriteString(b, sym)
		}
		b.WriteString(`]}`)
	case kUnion:
		b.WriteByte('[')
		for i, m := range s.union {
			if i > 0 {
				b.WriteByte(',')
			}
			m.write(b)
		}
		b.WriteByte(']')
	case kRef:
		cdapWriteString(b, s.name)
	default:
		cdapWriteString(b, string(s.kind))
	}
}

// cdapWriteString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func cdapWriteString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"':
				b.WriteString(`\"`)
			case c == '\\':
				b.WriteString(`\\`)
			case c < 0x20:
				switch c {
				case '\n':
					b.WriteString(`\n`)
				case '\r':
					b.WriteString(`\r`)
				case '\t':
					b.WriteString(`\t`)
				default:
					b.WriteString(`\u00`)
					b.WriteByte(cdapHex[c>>4])
					b.WriteByte(cdapHex[c&0xF])
				}
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString("\ufffd")
		} else if r == '\u2028' || r == '\u2029' {
			// Valid JSON, but JavaScript parsers choke on them raw.
			fmt.Fprintf(b, `\u%04x`, r)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

// nullable reports whether s is a two-member union of "null" and another
// type, returning that other type.
func (s *cdapSchema) nullable() (*cdapSchema, bool) {
	if s.kind != kUnion || len(s.union) != 2 {
		return nil, false
	}
	a, b := s.union[0], s.union[1]
	switch {
	case a.kind == kNull && b.kind != kNull:
		return b, true
	case b.kind == kNull && a.kind != kNull:
		return a, true
	}
	return nil, false
}

// simple reports whether s is a simple type or a nullable simple type, and
// returns the non-null simple type.
func (s *cdapSchema) simple() (schemaKind, bool) {
	if simpleKinds[s.kind] {
		return s.kind, true
	}
	if inner, ok := s.nullable(); ok && simpleKinds[inner.kind] {
		return inner.kind, true
	}
	return "", false
}

// isStringArray reports whether s is a (nullable) array of string or of
// nullable string: the only non-simple field csv/tsv/grok/syslog allow, last.
func (s *cdapSchema) isStringArray() bool {
	if inner, ok := s.nullable(); ok {
		s = inner
	}
	if s.kind != kArray {
		return false
	}
	it := s.items
	if it.kind == kString {
		return true
	}
	inner, ok := it.nullable()
	return ok && inner.kind == kString
}

// Default schemas of the formats (spec §8).
func nullableString() *cdapSchema {
	return &cdapSchema{kind: kUnion, union: []*cdapSchema{{kind: kString}, {kind: kNull}}}
}

func nullableInt() *cdapSchema {
	return &cdapSchema{kind: kUnion, union: []*cdapSchema{{kind: kInt}, {kind: kNull}}}
}

func textDefaultSchema() *cdapSchema {
	return &cdapSchema{kind: kRecord, name: "stringBody", fields: []schemaField{{name: "body", typ: &cdapSchema{kind: kString}}}}
}

func delimitedDefaultSchema() *cdapSchema {
	return &cdapSchema{kind: kRecord, name: "streamEvent", fields: []schemaField{
		{name: "body", typ: &cdapSchema{kind: kArray, items: &cdapSchema{kind: kString}}},
	}}
}

func clfDefaultSchema() *cdapSchema {
	return &cdapSchema{kind: kRecord, name: "streamEvent", fields: []schemaField{
		{name: "remote_host", typ: nullableString()},
		{name: "remote_login", typ: nullableString()},
		{name: "auth_user", typ: nullableString()},
		{name: "request_time", typ: nullableString()},
		{name: "request", typ: nullableString()},
		{name: "status", typ: nullableInt()},
		{name: "content_length", typ: nullableInt()},
		{name: "referrer", typ: nullableString()},
		{name: "user_agent", typ: nullableString()},
	}}
}

func grokDefaultSchema() *cdapSchema {
	return &cdapSchema{kind: kRecord, name: "streamEvent", fields: []schemaField{{name: "body", typ: nullableString()}}}
}

func syslogDefaultSchema() *cdapSchema {
	f := func(n string) schemaField { return schemaField{name: n, typ: nullableString()} }
	return &cdapSchema{kind: kRecord, name: "streamEvent", fields: []schemaField{
		f("timestamp"), f("logsource"), f("program"), f("message"), f("pid"),
	}}
}

// formatKind is a canonical format.
type formatKind string

const (
	fmtText   formatKind = "text"
	fmtCSV    formatKind = "csv"
	fmtTSV    formatKind = "tsv"
	fmtAvro   formatKind = "avro"
	fmtCLF    formatKind = "clf"
	fmtGrok   formatKind = "grok"
	fmtSyslog formatKind = "syslog"
)

// cdapClassNames are CDAP's format class names (case-sensitive).
var cdapClassNames = map[string]formatKind{
	"co.cask.cdap.format.TextRecordFormat":             fmtText,
	"co.cask.cdap.format.DelimitedStringsRecordFormat": fmtCSV,
	"co.cask.cdap.format.AvroRecordFormat":             fmtAvro,
	"co.cask.cdap.format.CombinedLogRecordFormat":      fmtCLF,
	"co.cask.cdap.format.GrokRecordFormat":             fmtGrok,
}

// resolveFormatName maps a client's format name to its canonical format.
func resolveFormatName(name string) (formatKind, bool) {
	if k, ok := cdapClassNames[name]; ok {
		return k, true
	}
	switch k := formatKind(strings.ToLower(name)); k {
	case fmtText, fmtCSV, fmtTSV, fmtAvro, fmtCLF, fmtGrok, fmtSyslog:
		return k, true
	}
	return "", false
}

func defaultSchemaFor(k formatKind) *cdapSchema {
	switch k {
	case fmtText:
		return textDefaultSchema()
	case fmtCSV, fmtTSV:
		return delimitedDefaultSchema()
	case fmtCLF:
		return clfDefaultSchema()
	case fmtGrok:
		return grokDefaultSchema()
	case fmtSyslog:
		return syslogDefaultSchema()
	}
	return nil // avro has no default
}

// errUnsupportedSchema is "Format <name> does not support the requested schema."
var errUnsupportedSchema = errors.New("schema not supported by the format")

// checkFormatSchema applies the format's schema rule.
func checkFormatSchema(k formatKind, s *cdapSchema) error {
	if s == nil || s.kind != kRecord || len(s.fields) == 0 {
		return fmt.Errorf("%w: the schema must be a record with at least one field", errUnsupportedSchema)
	}
	switch k {
	case fmtText:
		if len(s.fields) != 1 || s.fields[0].typ.kind != kString {
			return fmt.Errorf("%w: text needs exactly one string field", errUnsupportedSchema)
		}
	case fmtCSV, fmtTSV, fmtGrok, fmtSyslog:
		for i, f := range s.fields {
			if _, ok := f.typ.simple(); ok {
				continue
			}
			if i == len(s.fields)-1 && f.typ.isStringArray() {
				continue
			}
			return fmt.Errorf("%w: field %q is not a simple type", errUnsupportedSchema, f.name)
		}
	case fmtCLF:
		for _, f := range s.fields {
			if _, ok := f.typ.simple(); !ok {
				return fmt.Errorf("%w: field %q is not a simple type", errUnsupportedSchema, f.name)
			}
		}
	case fmtAvro:
		if _, err := s.avroSchema(); err != nil {
			return fmt.Errorf("%w: %v", errUnsupportedSchema, err)
		}
	}
	return nil
}

// avroSchema parses the schema's canonical JSON as Avro. A fresh cache per
// call keeps named types of different streams from meeting each other.
func (s *cdapSchema) avroSchema() (avro.Schema, error) {
	return avro.ParseWithCache(s.String(), "", &avro.SchemaCache{})
}

// parseMapping parses a csv/tsv `mapping` setting, "<index>:<field>,…", into
// field index → column index. Every named field must be simple.
func parseMapping(m string, s *cdapSchema) (map[int]int, error) {
	if strings.TrimSpace(m) == "" {
		return nil, errors.New("empty mapping")
	}
	parts := strings.Split(m, ",")
	if len(parts) > len(s.fields) {
		return nil, errors.New("more mapping entries than fields")
	}
	out := make(map[int]int, len(parts))
	for _, p := range parts {
		idx, field, ok := strings.Cut(p, ":")
		if !ok {
			return nil, fmt.Errorf("mapping entry %q is not index:field", p)
		}
		col, err := strconv.Atoi(strings.TrimSpace(idx))
		if err != nil || col < 0 {
			return nil, fmt.Errorf("mapping index %q is not a column number", idx)
		}
		field = strings.TrimSpace(field)
		fi := -1
		for i, f := range s.fields {
			if f.name == field {
				fi = i
				break
			}
		}
		if fi < 0 {
			return nil, fmt.Errorf("mapping names unknown field %q", field)
		}
		if _, ok := s.fields[fi].typ.simple(); !ok {
			return nil, fmt.Errorf("mapped field %q is not a simple type", field)
		}
		out[fi] = col
	}
	return out, nil
}
