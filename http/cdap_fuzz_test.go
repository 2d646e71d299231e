package http

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"

	"github.com/weirflow/weir/config"
)

// chunkReader returns at most n bytes per Read, like a chunked upload.
type chunkReader struct {
	b []byte
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n, len(r.b))
	copy(p, r.b[:k])
	r.b = r.b[k:]
	return k, nil
}

// referenceLines is the text-batch rule of spec §4.6 written the obvious way.
func referenceLines(body []byte) [][]byte {
	var out [][]byte
	parts := bytes.Split(body, []byte{'\n'})
	for i, p := range parts {
		last := i == len(parts)-1
		if !last && len(p) > 0 && p[len(p)-1] == '\r' {
			p = p[:len(p)-1]
		}
		if len(p) > 0 {
			out = append(out, p)
		}
	}
	return out
}

func FuzzSplitTextBatch(f *testing.F) {
	for _, s := range []string{"", "a", "a\nb", "a\r\nb\r\n\r\n", "\na\nb\n", "a\rb\n", "x\r", "\r\r\n", strings.Repeat("line\n", 100)} {
		f.Add([]byte(s), uint8(1), uint16(1000))
		f.Add([]byte(s), uint8(7), uint16(3))
	}
	f.Fuzz(func(t *testing.T, body []byte, chunk uint8, limit uint16) {
		n := int(chunk)%64 + 1
		lim := int64(limit)
		var got [][]byte
		err := splitTextBatch(&chunkReader{b: body, n: n}, lim, -1, func(l []byte) { got = append(got, l) })
		if int64(len(body)) > lim {
			if !errors.Is(err, errCDAPTooLarge) {
				t.Fatalf("body of %d over limit %d: err %v", len(body), lim, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		want := referenceLines(body)
		if len(got) != len(want) {
			t.Fatalf("%d events, want %d", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("event %d: %q, want %q", i, got[i], want[i])
			}
			if len(got[i]) == 0 || bytes.IndexByte(got[i], '\n') >= 0 {
				t.Fatalf("event %d is empty or holds LF: %q", i, got[i])
			}
		}
		// With the length known up front the result is the same.
		var again [][]byte
		if err := splitTextBatch(bytes.NewReader(body), lim, int64(len(body)), func(l []byte) { again = append(again, l) }); err != nil || len(again) != len(want) {
			t.Fatalf("with size hint: %d events, %v", len(again), err)
		}
	})
}

func FuzzDecodeAvroBatch(f *testing.F) {
	for _, codec := range []ocf.CodecName{ocf.Null, ocf.Deflate, ocf.Snappy} {
		file := makeAvroFile(f, codec, 5)
		f.Add(file)
		f.Add(file[:len(file)/2])
	}
	f.Add([]byte("not avro"))
	f.Add([]byte("Obj\x01"))
	f.Fuzz(func(t *testing.T, body []byte) {
		lim := avroLimits{body: 1 << 16, decoded: 1 << 18, records: 1 << 12}
		b, err := decodeAvroBatch(bytes.NewReader(body), lim)
		if err != nil {
			if !errors.Is(err, errAvro) && !errors.Is(err, errCDAPTooLarge) {
				t.Fatalf("error outside the contract: %v", err)
			}
			return
		}
		sum := md5.Sum([]byte(b.schema))
		if b.hash != hex.EncodeToString(sum[:]) {
			t.Fatal("schema.hash is not the MD5 of the schema")
		}
		if int64(len(b.records)) > lim.records {
			t.Fatalf("%d records over the limit", len(b.records))
		}
		writer, err := avro.ParseWithCache(b.schema, "", &avro.SchemaCache{})
		if err != nil {
			t.Fatalf("accepted a schema that does not parse: %v", err)
		}
		var total int64
		for i, r := range b.records {
			total += int64(len(r))
			// Each record is exactly one value of the writer schema.
			w := &avroWalker{budget: 4*len(r) + 1024}
			end, err := w.skip(r, 0, writer, 0)
			if err != nil || end != len(r) {
				t.Fatalf("record %d does not re-walk: end %d of %d, %v", i, end, len(r), err)
			}
		}
		if total > lim.decoded {
			t.Fatalf("records hold %d bytes, over the decoded limit", total)
		}
	})
}

func FuzzParseCDAPTime(f *testing.F) {
	for _, s := range []string{"0", "now", "now-5m", "now-1d+2h-30m", "now+30s", "now-10ms", "NOW", "-5", "now 6h",
		"now-1w", "99999999999999999999", "9223372036854775807", "now-9223372036854775807ms", ""} {
		f.Add(s, int64(1_700_000_000_000))
	}
	f.Fuzz(func(t *testing.T, v string, now int64) {
		got, err := parseCDAPTime(v, now)
		if err != nil {
			if !errors.Is(err, errTimeFormat) {
				t.Fatalf("%q: error outside the contract: %v", v, err)
			}
			return
		}
		switch {
		case strings.HasPrefix(v, "now"):
			// Relative times move with now, one for one.
			if now < math.MaxInt64 {
				if g2, err := parseCDAPTime(v, now+1); err == nil && g2 != got+1 {
					t.Fatalf("%q: %d at now, %d at now+1", v, got, g2)
				}
			}
		default:
			n, perr := strconv.ParseInt(v, 10, 64)
			if perr != nil || n != got || n < 0 {
				t.Fatalf("%q: accepted as %d (ParseInt: %d, %v)", v, got, n, perr)
			}
			for _, c := range v {
				if c < '0' || c > '9' {
					t.Fatalf("%q: accepted a non-digit", v)
				}
			}
		}
		// Every accepted value also passes the query layer without panicking.
		_, _ = parseEventsQuery(func(k string) (string, bool) { return v, k == "start" }, now)
	})
}

// jvalueToAny converts a parsed value the way encoding/json would see it.
func jvalueToAny(v *jvalue) any {
	switch v.kind {
	case jNull:
		return nil
	case jBool:
		return v.text == "true"
	case jNumber:
		f, _ := strconv.ParseFloat(v.text, 64)
		return f
	case jString:
		return v.text
	case jArray:
		out := make([]any, len(v.arr))
		for i, e := range v.arr {
			out[i] = jvalueToAny(e)
		}
		return out
	}
	out := map[string]any{}
	for i, k := range v.keys {
		out[k] = jvalueToAny(v.vals[i])
	}
	return out
}

func FuzzLenientJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{'notification.threshold.mb': 1}`, `{ttl:"100"}`, `ttl:2`, `{bad`, `[1,{"b":null}]`,
		`{"format":{"name":"csv","schema":{"type":"record","name":"r","fields":[{"name":"a","type":"int"}]},"settings":{"mapping":"0:a"}}}`,
		`{"format":{"name":"syslog"},"principal":"a/b@C","description":"d","ttl":5}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parseLenientJSON(data)
		if json.Valid(data) && utf8.Valid(data) {
			if err != nil {
				t.Fatalf("valid JSON refused: %v", err)
			}
			var std any
			if err := json.Unmarshal(data, &std); err == nil && !reflect.DeepEqual(jvalueToAny(v), std) {
				t.Fatalf("parsed differently: %#v vs %#v", jvalueToAny(v), std)
			}
		}
		// A properties body never panics; an accepted one renders valid JSON
		// whose format reads back unchanged.
		req, spec, perr := parsePropsBody(data)
		if perr != nil {
			if perr.status != 400 {
				t.Fatalf("status %d", perr.status)
			}
			return
		}
		props, aerr := applyProps(config.DefaultTopicProps(), req, spec)
		if aerr != nil {
			t.Fatal(aerr)
		}
		out := renderProps(props)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON rendered: %s", out)
		}
		if spec != nil {
			back, err := parseStoredFormat(props.Format)
			if err != nil {
				t.Fatalf("stored format does not read back: %v (%s)", err, props.Format)
			}
			b1, _ := back.MarshalJSON()
			if !bytes.Equal(b1, props.Format) {
				t.Fatalf("format round trip: %s vs %s", b1, props.Format)
			}
		}
	})
}
