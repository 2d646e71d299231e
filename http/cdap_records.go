package http

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hamba/avro/v2"

	"github.com/weirflow/weir/config"
)

// `format=records` (spec §11) decodes each body with the stream's format and
// schema into a value tree, then renders it as JSON. Values are: nil, bool,
// int32, int64, float32, float64, string, []byte, []any, map[string]any,
// *recordValue and enumValue. An event that cannot be decoded is rendered
// with its escaped body and an `error` text instead of failing the read.

// recordValue is a decoded record, fields in schema order.
type recordValue struct {
	names []string
	vals  []any
}

func (r *recordValue) get(name string) (any, bool) {
	for i, n := range r.names {
		if n == name {
			return r.vals[i], true
		}
	}
	return nil, false
}

// enumValue is a decoded enum symbol.
type enumValue string

// appendRecordJSON appends one records element for e.
func (f *compiledFormat) appendRecordJSON(dst []byte, e *config.Event) []byte {
	rec, err := f.decode(e)
	var val []byte
	if err == nil {
		val, err = appendValueJSON(nil, rec, 0)
	}
	dst = append(dst, `{"timestamp":`...)
	dst = strconv.AppendInt(dst, e.Timestamp/1000, 10)
	dst = append(dst, `,"headers":`...)
	dst = appendHeadersJSON(dst, e.Headers)
	if err != nil {
		dst = append(dst, `,"body":`...)
		dst = appendBodyJSON(dst, e.Body)
		dst = append(dst, `,"error":`...)
		dst = cdapAppendString(dst, err.Error())
		return append(dst, '}')
	}
	dst = append(dst, `,"record":`...)
	dst = append(dst, val...)
	return append(dst, '}')
}

func cdapAppendString(dst []byte, s string) []byte {
	b := bytes.NewBuffer(dst)
	cdapWriteString(b, s)
	return b.Bytes()
}

// decode turns a body into a record of the stream's schema.
func (f *compiledFormat) decode(e *config.Event) (*recordValue, error) {
	sch := f.spec.schema
	switch f.spec.kind {
	case fmtText:
		return textRecord(sch, f.text(e.Body))
	case fmtCSV, fmtTSV:
		return f.delimitedRecord(f.text(e.Body))
	case fmtCLF:
		return clfRecord(sch, string(e.Body))
	case fmtGrok, fmtSyslog:
		if f.grokErr != nil {
			return nil, f.grokErr
		}
		return grokRecord(sch, f.grok, toUTF8(e.Body))
	case fmtAvro:
		return f.avroRecord(e)
	}
	return nil, fmt.Errorf("unknown format %q", f.spec.kind)
}

// text decodes a body in the format's charset; invalid bytes → U+FFFD.
func (f *compiledFormat) text(b []byte) string {
	if f.charset == nil {
		return toUTF8(b)
	}
	out, err := f.charset.NewDecoder().Bytes(b)
	if err != nil {
		return toUTF8(b)
	}
	return toUTF8(out)
}

func toUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func textRecord(sch *cdapSchema, s string) (*recordValue, error) {
	return &recordValue{names: []string{sch.fields[0].name}, vals: []any{s}}, nil
}

// fieldFromText converts a text column to the field's type. present=false
// means the column is missing or (for non-string fields) empty: null.
func fieldFromText(f schemaField, text string, present bool) (any, error) {
	kind, nullable := f.typ.simple()
	if f.typ.isStringArray() {
		if !present {
			return checkNull(f, nil)
		}
		return []any{text}, nil
	}
	if !nullable {
		return nil, fmt.Errorf("field %q has an unsupported type", f.name)
	}
	if !present || (text == "" && kind != kString && kind != kBytes) {
		return checkNull(f, nil)
	}
	v, err := convertText(kind, text)
	if err != nil {
		return nil, fmt.Errorf("field %q: %v", f.name, err)
	}
	return v, nil
}

func checkNull(f schemaField, v any) (any, error) {
	if v == nil && f.typ.kind != kNull {
		if _, ok := f.typ.nullable(); !ok {
			return nil, fmt.Errorf("field %q is not nullable but has no value", f.name)
		}
	}
	return v, nil
}

func convertText(kind schemaKind, s string) (any, error) {
	switch kind {
	case kNull:
		return nil, nil
	case kBoolean:
		switch s {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", s)
	case kInt:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not an int", s)
		}
		return int32(n), nil
	case kLong:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a long", s)
		}
		return n, nil
	case kFloat:
		x, err := strconv.ParseFloat(s, 32)
		if err != nil || !decimalText(s) {
			return nil, fmt.Errorf("%q is not a float", s)
		}
		return float32(x), nil
	case kDouble:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || !decimalText(s) {
			return nil, fmt.Errorf("%q is not a double", s)
		}
		return x, nil
	case kBytes:
		return []byte(s), nil
	}
	return s, nil
}

// decimalText refuses Go's extra float spellings (hex, "inf", "nan", "_").
func decimalText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return false
		}
	}
	return true
}

func (f *compiledFormat) delimitedRecord(s string) (*recordValue, error) {
	sch := f.spec.schema
	cols := strings.Split(s, f.delimiter)
	rec := &recordValue{names: make([]string, len(sch.fields)), vals: make([]any, len(sch.fields))}
	for i, fd := range sch.fields {
		rec.names[i] = fd.name
		col := i
		if f.mapping != nil {
			c, ok := f.mapping[i]
			if !ok {
				v, err := checkNull(fd, nil)
				if err != nil {
					return nil, err
				}
				rec.vals[i] = v
				continue
			}
			col = c
		}
		if fd.typ.isStringArray() && i == len(sch.fields)-1 && f.mapping == nil {
			rest := []any{}
			if col < len(cols) {
				for _, c := range cols[col:] {
					rest = append(rest, c)
				}
			}
			rec.vals[i] = rest
			continue
		}
		v, err := fieldFromText(fd, colAt(cols, col), col < len(cols))
		if err != nil {
			return nil, err
		}
		rec.vals[i] = v
	}
	return rec, nil
}

func colAt(cols []string, i int) string {
	if i < len(cols) {
		return cols[i]
	}
	return ""
}

// clfTokens splits a combined-log line: space-separated tokens, where "…"
// and […] are one token each with their delimiters removed.
func clfTokens(s string) ([]string, error) {
	var out []string
	i := 0
	for i < len(s) {
		switch s[i] {
		case ' ':
			i++
		case '"':
			j := i + 1
			var b strings.Builder
			for ; j < len(s); j++ {
				if s[j] == '\\' && j+1 < len(s) && s[j+1] == '"' {
					b.WriteString(`\"`)
					j++
					continue
				}
				if s[j] == '"' {
					break
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, errors.New("unclosed quote")
			}
			out = append(out, b.String())
			i = j + 1
		case '[':
			j := strings.IndexByte(s[i+1:], ']')
			if j < 0 {
				return nil, errors.New("unclosed bracket")
			}
			out = append(out, s[i+1:i+1+j])
			i = i + 2 + j
		default:
			j := strings.IndexByte(s[i:], ' ')
			if j < 0 {
				j = len(s) - i
			}
			out = append(out, s[i:i+j])
			i += j
		}
	}
	return out, nil
}

func clfRecord(sch *cdapSchema, s string) (*recordValue, error) {
	toks, err := clfTokens(toUTF8([]byte(s)))
	if err != nil {
		return nil, err
	}
	rec := &recordValue{names: make([]string, len(sch.fields)), vals: make([]any, len(sch.fields))}
	for i, fd := range sch.fields {
		rec.names[i] = fd.name
		present := i < len(toks)
		tok := colAt(toks, i)
		if present && tok == "-" && fd.typ.kind != kString {
			present = false
		}
		if !present {
			v, err := checkNull(fd, nil)
			if err != nil {
				return nil, err
			}
			rec.vals[i] = v
			continue
		}
		kind, _ := fd.typ.simple()
		v, err := convertText(kind, tok)
		if err != nil {
			return nil, fmt.Errorf("field %q: %v", fd.name, err)
		}
		rec.vals[i] = v
	}
	return rec, nil
}

func grokRecord(sch *cdapSchema, g *grokPattern, s string) (*recordValue, error) {
	caps := g.match(s)
	rec := &recordValue{names: make([]string, len(sch.fields)), vals: make([]any, len(sch.fields))}
	for i, fd := range sch.fields {
		rec.names[i] = fd.name
		text, ok := caps[fd.name]
		if fd.typ.isStringArray() {
			if !ok {
				v, err := checkNull(fd, nil)
				if err != nil {
					return nil, err
				}
				rec.vals[i] = v
				continue
			}
			rec.vals[i] = []any{text}
			continue
		}
		v, err := fieldFromText(fd, text, ok)
		if err != nil {
			return nil, err
		}
		rec.vals[i] = v
	}
	return rec, nil
}

// avroRecord decodes an Avro body with the writer schema of its `schema`
// header (or the stream schema), then resolves it to the stream schema.
// Parsed writer schemas are kept for the rest of the read: a batch's events
// all carry the same schema text.
func (f *compiledFormat) avroRecord(e *config.Event) (*recordValue, error) {
	sch := f.spec.schema
	text, ok := e.Headers["schema"]
	if !ok {
		text = sch.String()
	}
	if f.writers == nil {
		f.writers = map[string]avroParsed{}
	}
	w, ok := f.writers[text]
	if !ok {
		w.schema, w.err = avro.ParseWithCache(text, "", &avro.SchemaCache{})
		if w.err != nil {
			w.err = fmt.Errorf("invalid writer schema: %v", w.err)
		}
		if len(f.writers) < 64 {
			f.writers[text] = w
		}
	}
	if w.err != nil {
		return nil, w.err
	}
	writer := w.schema
	d := &avroDecoder{b: e.Body, budget: 4*len(e.Body) + 1024}
	v, err := d.value(writer, 0)
	if err != nil {
		return nil, err
	}
	if d.pos != len(e.Body) {
		return nil, fmt.Errorf("%d bytes left over after the record", len(e.Body)-d.pos)
	}
	out, err := resolveAvro(v, sch, 0)
	if err != nil {
		return nil, err
	}
	rec, ok := out.(*recordValue)
	if !ok {
		return nil, errors.New("the body is not a record")
	}
	return rec, nil
}

// avroParsed is a parsed writer schema, or why it does not parse.
type avroParsed struct {
	schema avro.Schema
	err    error
}

// avroDecoder decodes Avro binary into the value tree.
type avroDecoder struct {
	b      []byte
	pos    int
	budget int
}

func (d *avroDecoder) long() (int64, error) {
	v, p, err := varLongAt(d.b, d.pos)
	if err != nil {
		return 0, err
	}
	d.pos = p
	return v, nil
}

func (d *avroDecoder) take(n int64) ([]byte, error) {
	if n < 0 || n > int64(len(d.b)-d.pos) {
		return nil, errors.New("unexpected end of data")
	}
	out := d.b[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return out, nil
}

func (d *avroDecoder) value(s avro.Schema, depth int) (any, error) {
	if depth > maxAvroDepth {
		return nil, errors.New("value nested too deep")
	}
	switch s.Type() {
	case avro.Null:
		return nil, nil
	case avro.Boolean:
		b, err := d.take(1)
		if err != nil {
			return nil, err
		}
		if b[0] > 1 {
			return nil, fmt.Errorf("invalid boolean byte %d", b[0])
		}
		return b[0] == 1, nil
	case avro.Int:
		n, err := d.long()
		if err != nil {
			return nil, err
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return nil, fmt.Errorf("int out of range: %d", n)
		}
		return int32(n), nil
	case avro.Long:
		return d.long()
	case avro.Float:
		b, err := d.take(4)
		if err != nil {
			return nil, err
		}
		return math.Float32frombits(binary.LittleEndian.Uint32(b)), nil
	case avro.Double:
		b, err := d.take(8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
	case avro.String, avro.Bytes:
		n, err := d.long()
		if err != nil {
			return nil, err
		}
		b, err := d.take(n)
		if err != nil {
			return nil, err
		}
		if s.Type() == avro.String {
			return toUTF8(b), nil
		}
		return append([]byte(nil), b...), nil
	case avro.Fixed:
		b, err := d.take(int64(s.(*avro.FixedSchema).Size()))
		if err != nil {
			return nil, err
		}
		return append([]byte(nil), b...), nil
	case avro.Enum:
		syms := s.(*avro.EnumSchema).Symbols()
		n, err := d.long()
		if err != nil {
			return nil, err
		}
		if n < 0 || n >= int64(len(syms)) {
			return nil, fmt.Errorf("enum index %d out of range", n)
		}
		return enumValue(syms[n]), nil
	case avro.Union:
		types := s.(*avro.UnionSchema).Types()
		n, err := d.long()
		if err != nil {
			return nil, err
		}
		if n < 0 || n >= int64(len(types)) {
			return nil, fmt.Errorf("union index %d out of range", n)
		}
		return d.value(types[n], depth+1)
	case avro.Record, avro.Error:
		fs := s.(*avro.RecordSchema).Fields()
		r := &recordValue{names: make([]string, len(fs)), vals: make([]any, len(fs))}
		for i, f := range fs {
			v, err := d.value(f.Type(), depth+1)
			if err != nil {
				return nil, err
			}
			r.names[i], r.vals[i] = f.Name(), v
		}
		return r, nil
	case avro.Ref:
		return d.value(s.(*avro.RefSchema).Schema(), depth+1)
	case avro.Array:
		items := s.(*avro.ArraySchema).Items()
		out := []any{}
		err := d.blocks(func() error {
			v, err := d.value(items, depth+1)
			out = append(out, v)
			return err
		})
		return out, err
	case avro.Map:
		values := s.(*avro.MapSchema).Values()
		out := map[string]any{}
		err := d.blocks(func() error {
			n, err := d.long()
			if err != nil {
				return err
			}
			k, err := d.take(n)
			if err != nil {
				return err
			}
			v, err := d.value(values, depth+1)
			out[toUTF8(k)] = v
			return err
		})
		return out, err
	}
	return nil, fmt.Errorf("unsupported schema type %s", s.Type())
}

func (d *avroDecoder) blocks(item func() error) error {
	for {
		n, err := d.long()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if n < 0 {
			if n == math.MinInt64 {
				return errors.New("invalid block count")
			}
			n = -n
			if _, err := d.long(); err != nil {
				return err
			}
		}
		if n > int64(d.budget) {
			return errors.New("too many items")
		}
		d.budget -= int(n)
		for i := int64(0); i < n; i++ {
			if err := item(); err != nil {
				return err
			}
		}
	}
}

// resolveAvro converts a value decoded with the writer schema to the reader
// (stream) schema by Avro's resolution rules: record fields by name, numeric
// promotion, string↔bytes, union branch by value, enum symbols by name.
func resolveAvro(v any, r *cdapSchema, depth int) (any, error) {
	if depth > maxAvroDepth {
		return nil, errors.New("value nested too deep")
	}
	switch r.kind {
	case kRef:
		return resolveAvro(v, r.target, depth+1)
	case kUnion:
		for _, m := range r.union {
			if exactMatch(v, m) {
				return resolveAvro(v, m, depth+1)
			}
		}
		for _, m := range r.union {
			if out, err := resolveAvro(v, m, depth+1); err == nil {
				return out, nil
			}
		}
		return nil, fmt.Errorf("no branch of union %s fits a %T", r, v)
	case kNull:
		if v == nil {
			return nil, nil
		}
	case kBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case kInt:
		if n, ok := v.(int32); ok {
			return n, nil
		}
	case kLong:
		switch n := v.(type) {
		case int32:
			return int64(n), nil
		case int64:
			return n, nil
		}
	case kFloat:
		switch n := v.(type) {
		case int32:
			return float32(n), nil
		case int64:
			return float32(n), nil
		case float32:
			return n, nil
		}
	case kDouble:
		switch n := v.(type) {
		case int32:
			return float64(n), nil
		case int64:
			return float64(n), nil
		case float32:
			return float64(n), nil
		case float64:
			return n, nil
		}
	case kString:
		switch s := v.(type) {
		case string:
			return s, nil
		case []byte:
			return toUTF8(s), nil
		}
	case kBytes:
		switch s := v.(type) {
		case string:
			return []byte(s), nil
		case []byte:
			return s, nil
		}
	case kEnum:
		if s, ok := v.(enumValue); ok {
			for _, sym := range r.symbols {
				if sym == string(s) {
					return s, nil
				}
			}
			return nil, fmt.Errorf("enum symbol %q is not in the stream schema", string(s))
		}
	case kArray:
		if a, ok := v.([]any); ok {
			out := make([]any, len(a))
			for i, x := range a {
				y, err := resolveAvro(x, r.items, depth+1)
				if err != nil {
					return nil, err
				}
				out[i] = y
			}
			return out, nil
		}
	case kMap:
		if m, ok := v.(map[string]any); ok {
			out := make(map[string]any, len(m))
			for k, x := range m {
				y, err := resolveAvro(x, r.values, depth+1)
				if err != nil {
					return nil, err
				}
				out[k] = y
			}
			return out, nil
		}
	case kRecord:
		if w, ok := v.(*recordValue); ok {
			out := &recordValue{names: make([]string, len(r.fields)), vals: make([]any, len(r.fields))}
			for i, f := range r.fields {
				x, ok := w.get(f.name)
				if !ok {
					return nil, fmt.Errorf("field %q is missing from the writer's record", f.name)
				}
				y, err := resolveAvro(x, f.typ, depth+1)
				if err != nil {
					return nil, fmt.Errorf("field %q: %v", f.name, err)
				}
				out.names[i], out.vals[i] = f.name, y
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("a %T does not fit %s", v, r)
}

// exactMatch reports whether v was decoded from exactly r's type (so a union
// picks the branch the writer used before trying promotions).
func exactMatch(v any, r *cdapSchema) bool {
	switch v.(type) {
	case nil:
		return r.kind == kNull
	case bool:
		return r.kind == kBoolean
	case int32:
		return r.kind == kInt
	case int64:
		return r.kind == kLong
	case float32:
		return r.kind == kFloat
	case float64:
		return r.kind == kDouble
	case string:
		return r.kind == kString
	case []byte:
		return r.kind == kBytes
	case enumValue:
		return r.kind == kEnum
	case []any:
		return r.kind == kArray
	case map[string]any:
		return r.kind == kMap
	case *recordValue:
		return r.kind == kRecord || r.kind == kRef
	}
	return false
}

// appendValueJSON renders a decoded value (spec §11 "Values").
func appendValueJSON(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxAvroDepth {
		return nil, errors.New("value nested too deep")
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case float32:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%v cannot be represented in JSON", x)
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 32), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v cannot be represented in JSON", x)
		}
		return strconv.AppendFloat(dst, x, 'g', -1, 64), nil
	case string:
		return cdapAppendString(dst, x), nil
	case enumValue:
		return cdapAppendString(dst, string(x)), nil
	case []byte:
		return appendBodyJSON(dst, x), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendValueJSON(dst, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = cdapAppendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendValueJSON(dst, x[k], depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case *recordValue:
		dst = append(dst, '{')
		for i, n := range x.names {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = cdapAppendString(dst, n)
			dst = append(dst, ':')
			var err error
			if dst, err = appendValueJSON(dst, x.vals[i], depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	}
	return nil, fmt.Errorf("cannot render a %T", v)
}
