package http

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"

	"github.com/weirflow/weir/config"
)

func TestLenientJSON(t *testing.T) {
	cases := []struct {
		in   string
		want string // canonical rendering of the parsed value; "" = error
	}{
		{`{"a":1}`, `{a:1}`},
		{`{'notification.threshold.mb': 1}`, `{notification.threshold.mb:1}`},
		{`{ttl: "100"}`, `{ttl:"100"}`},
		{`{a=1; b=>2}`, `{a:1,b:2}`},
		{"// c\n{\"a\": [1, 'x', true, null]} /* end */", `{a:[1,"x",true,null]}`},
		{"# hash comment\n{\"a\":\"\\u00e9\\n\"}", "{a:\"é\\n\"}"},
		{`{"a":1,"a":2}`, `{a:1,a:2}`},
		{`ttl:2`, ``},
		{`{bad`, ``},
		{`{"a":1} x`, ``},
		{`[1,2`, ``},
		{`"unterminated`, ``},
		{``, ``},
		{`   `, ``},
		{`{"a":"\q"}`, ``},
		{`null`, `null`},
		{`abc`, `"abc"`},
	}
	for _, c := range cases {
		v, err := parseLenientJSON([]byte(c.in))
		if c.want == "" {
			if err == nil {
				t.Errorf("%q: want an error, got %s", c.in, renderJV(v))
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := renderJV(v); got != c.want {
			t.Errorf("%q: got %s, want %s", c.in, got, c.want)
		}
	}
	v, _ := parseLenientJSON([]byte(`{"a":1,"a":2}`))
	if a, _ := v.get("a"); a.text != "2" {
		t.Errorf("repeated name: got %s, want the last value 2", a.text)
	}
	deep := strings.Repeat("[", maxJSONDepth+10) + strings.Repeat("]", maxJSONDepth+10)
	if _, err := parseLenientJSON([]byte(deep)); err == nil {
		t.Error("deep nesting: want an error")
	}
}

func renderJV(v *jvalue) string {
	switch v.kind {
	case jNull:
		return "null"
	case jString:
		b, _ := json.Marshal(v.text)
		return string(b)
	case jArray:
		parts := make([]string, len(v.arr))
		for i, e := range v.arr {
			parts[i] = renderJV(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case jObject:
		parts := make([]string, len(v.keys))
		for i, k := range v.keys {
			parts[i] = k + ":" + renderJV(v.vals[i])
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	return v.text
}

func TestParseCDAPTime(t *testing.T) {
	const now = int64(1_700_000_000_000)
	ok := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1407806944181", 1407806944181},
		{"9223372036854775807", math.MaxInt64},
		{"now", now},
		{"now-5m", now - 5*60_000},
		{"now-1d+2h-30m", now - 86_400_000 + 7_200_000 - 1_800_000},
		{"now-10ms", now - 10},
		{"now+30s", now + 30_000},
		{"now-1s-1s", now - 2000},
		{"now+1h", now + 3_600_000},
		{"now-100000000d", now - 100000000*86_400_000},
	}
	for _, c := range ok {
		got, err := parseCDAPTime(c.in, now)
		if err != nil || got != c.want {
			t.Errorf("%q: got %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"NOW", "Now", "-5", "now 6h", "now-1w", "now/1d", "abc", "", "99999999999999999999",
		"now-", "now-5", "now5m", "now--5m", "+5", "1e3", "now-9999999999999999999d", "now+106751991167d", " 5", "5 "} {
		if v, err := parseCDAPTime(bad, now); err == nil {
			t.Errorf("%q: want an error, got %d", bad, v)
		}
	}
}

func TestParseEventsQuery(t *testing.T) {
	const now = int64(1_700_000_000_000)
	cases := []struct {
		q    string
		want string // error text, or "" for success
	}{
		{"", ""},
		{"start=5&end=5", "Start time must be smaller than end time"},
		{"start=6&end=5", "Start time must be smaller than end time"},
		{"start=now&end=now", "Start time must be smaller than end time"},
		{"limit=0", "Cannot request for <=0 events"},
		{"limit=-1", "Cannot request for <=0 events"},
		{"limit=abc", "invalid limit abc"},
		{"limit=2147483648", "invalid limit 2147483648"},
		{"start=-5", "invalid time format -5"},
		{"start=NOW", "invalid time format NOW"},
		{"start=now-100000000d", "Start time must be >= 0"},
		{"end=now-100000000d", "End time must be >= 0"},
		{"format=xml", "Unknown events format xml. Use raw or records."},
		{"format=records&limit=5", ""},
		{"start=abc&limit=0", "invalid time format abc"},
		{"limit=abc&format=xml", "invalid limit abc"},
	}
	for _, c := range cases {
		vals, err := parseQueryString(c.q)
		if err != nil {
			t.Fatal(err)
		}
		_, qerr := parseEventsQuery(func(k string) (string, bool) {
			v, ok := vals[k]
			return v, ok
		}, now)
		got := ""
		if qerr != nil {
			got = qerr.msg
			if qerr.status != http.StatusBadRequest {
				t.Errorf("%q: status %d", c.q, qerr.status)
			}
		}
		if got != c.want {
			t.Errorf("%q: got %q, want %q", c.q, got, c.want)
		}
	}
}

func parseQueryString(q string) (map[string]string, error) {
	out := map[string]string{}
	if q == "" {
		return out, nil
	}
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out, nil
}

func TestClampRange(t *testing.T) {
	const now = int64(10_000)
	q := eventsQuery{start: 0, end: math.MaxInt64, limit: 1}
	from, to, ok := clampRange(q, now, config.TTLForever)
	if !ok || from != 0 || to != now*1000 {
		t.Errorf("forever: %d %d %v", from, to, ok)
	}
	from, to, ok = clampRange(q, now, 1000)
	if !ok || from != (now-1000)*1000 || to != now*1000 {
		t.Errorf("ttl 1s: %d %d %v", from, to, ok)
	}
	if _, _, ok = clampRange(q, now, 0); ok {
		t.Error("ttl 0 must give an empty range")
	}
	if _, _, ok = clampRange(eventsQuery{start: now + 1, end: math.MaxInt64}, now, config.TTLForever); ok {
		t.Error("a start in the future must give an empty range")
	}
}

func TestEscapeBody(t *testing.T) {
	cases := []struct {
		in   []byte
		want string
	}{
		{[]byte{0x00}, `\x00`},
		{[]byte{0x7F}, `\x7F`},
		{[]byte{0xFF}, `\xFF`},
		{[]byte{0x68, 0xC3, 0xA9}, `h\xC3\xA9`},
		{[]byte{0x09, 0x0A, 0x0D}, `\x09\x0A\x0D`},
		{[]byte(`<a>&='"\`), `<a>&='"\`},
		{[]byte{0x00, 0x41, 0x7F, 0xFF}, `\x00A\x7F\xFF`},
		{[]byte{}, ``},
	}
	for _, c := range cases {
		if got := string(escapeBody(nil, c.in)); got != c.want {
			t.Errorf("% X: got %q, want %q", c.in, got, c.want)
		}
		// The JSON form must decode to the escaped text.
		var s string
		if err := json.Unmarshal(appendBodyJSON(nil, c.in), &s); err != nil || s != c.want {
			t.Errorf("% X: JSON form decodes to %q (%v), want %q", c.in, s, err, c.want)
		}
	}
	if got := string(appendBodyJSON(nil, []byte{0x61, 0x00, 0x5C})); got != `"a\\x00\\"` {
		t.Errorf("wire form: got %s", got)
	}
}

func TestEventHeaders(t *testing.T) {
	h := http.Header{}
	h.Add("S.Trace-ID", "x1")
	h.Add("s.lower", "y")
	h.Add("other.z", "1")
	h.Add("Content-Type", "text/plain")
	got, err := eventHeaders(h, "s")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"trace-id": "x1", "lower": "y"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	dup := http.Header{}
	dup.Add("s.h", "1")
	dup.Add("S.H", "2")
	if _, err := eventHeaders(dup, "s"); err == nil || err.msg != "Duplicate event header 'h'" {
		t.Errorf("duplicate: %v", err)
	}
	// Names differing only in case that Go did not canonicalise together.
	raw := http.Header{"s.x": {"1"}, "S.X": {"2"}}
	if _, err := eventHeaders(raw, "s"); err == nil {
		t.Error("case-differing duplicates: want an error")
	}
	res := http.Header{}
	res.Add("s.content.type", "x")
	if _, err := eventHeaders(res, "s", "content.type"); err == nil {
		t.Error("reserved name: want an error")
	}
	empty := http.Header{}
	empty.Add("s.", "v")
	if got, err := eventHeaders(empty, "s"); err != nil || got[""] != "v" {
		t.Errorf("bare prefix: %v %v", got, err)
	}
}

func splitAll(t *testing.T, r io.Reader, limit, hint int64) ([]string, error) {
	t.Helper()
	var out []string
	err := splitTextBatch(r, limit, hint, func(b []byte) { out = append(out, string(b)) })
	return out, err
}

func TestSplitTextBatch(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"1,Sam\r\n2,Max\r\n\r\n", []string{"1,Sam", "2,Max"}},
		{"a\nb", []string{"a", "b"}},
		{"a\n\nb\n", []string{"a", "b"}},
		{"\na\nb\n", []string{"a", "b"}},
		{"a\rb\n", []string{"a\rb"}},
		{"", nil},
		{"\n\n\r\n", nil},
		{"x\r", []string{"x\r"}},
		{"\r\r\n", []string{"\r"}},
	}
	for _, c := range cases {
		for _, mode := range []string{"whole", "onebyte", "nohint"} {
			var r io.Reader = strings.NewReader(c.in)
			hint := int64(len(c.in))
			if mode == "onebyte" {
				r = iotest.OneByteReader(r)
			}
			if mode != "whole" {
				hint = -1
			}
			got, err := splitAll(t, r, 1<<20, hint)
			if err != nil || fmt.Sprintf("%q", got) != fmt.Sprintf("%q", c.want) {
				t.Errorf("%q (%s): got %q, %v; want %q", c.in, mode, got, err, c.want)
			}
		}
	}
	// Lines straddling buffer boundaries, retained slices stay intact.
	var sb strings.Builder
	var want []string
	for i := 0; i < 3000; i++ {
		line := fmt.Sprintf("Message number %d %s", i, strings.Repeat("x", i%700))
		want = append(want, line)
		sb.WriteString(line + "\n")
	}
	got, err := splitAll(t, iotest.HalfReader(strings.NewReader(sb.String())), 1<<30, -1)
	if err != nil || len(got) != len(want) {
		t.Fatalf("long body: %d lines, %v", len(got), err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d: got %q", i, got[i])
		}
	}
	// The limit is inclusive, and nothing past limit+1 bytes is read.
	body := strings.Repeat("a\n", 50)
	if _, err := splitAll(t, strings.NewReader(body), 100, -1); err != nil {
		t.Errorf("exactly at the limit: %v", err)
	}
	cr := &countReads{r: strings.NewReader(body + strings.Repeat("b", 1<<20))}
	if _, err := splitAll(t, cr, 100, -1); !errors.Is(err, errCDAPTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	if cr.n > 101 {
		t.Errorf("read %d bytes for a limit of 100", cr.n)
	}
}

type countReads struct {
	r io.Reader
	n int
}

func (c *countReads) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

const testRecordSchema = `{"type":"record","name":"Record","fields":[{"name":"id","type":"int"},{"name":"name","type":["null","string"]}]}`

type testRecord struct {
	ID   int32   `avro:"id"`
	Name *string `avro:"name"`
}

func makeAvroFile(t testing.TB, codec ocf.CodecName, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := ocf.NewEncoder(testRecordSchema, &buf, ocf.WithCodec(codec), ocf.WithBlockLength(97))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("Record number %d", i)
		if err := enc.Encode(testRecord{ID: int32(i), Name: &name}); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeAvroBatch(t *testing.T) {
	lim := avroLimits{body: 16 << 20, decoded: 64 << 20, records: 16 << 20}
	for _, codec := range []ocf.CodecName{ocf.Null, ocf.Deflate, ocf.Snappy} {
		file := makeAvroFile(t, codec, 1000)
		d, err := ocf.NewDecoder(bytes.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		wantSchema := string(d.Metadata()["avro.schema"])
		b, err := decodeAvroBatch(iotest.OneByteReader(bytes.NewReader(file)), lim)
		if err != nil {
			t.Fatalf("%s: %v", codec, err)
		}
		sum := md5.Sum([]byte(wantSchema))
		if b.schema != wantSchema || b.hash != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: schema %q hash %q", codec, b.schema, b.hash)
		}
		if len(b.records) != 1000 {
			t.Fatalf("%s: %d records", codec, len(b.records))
		}
		sch := avro.MustParse(testRecordSchema)
		for i, r := range b.records {
			var rec testRecord
			if err := avro.Unmarshal(sch, r, &rec); err != nil {
				t.Fatalf("%s: record %d: %v", codec, i, err)
			}
			if rec.ID != int32(i) || rec.Name == nil || *rec.Name != fmt.Sprintf("Record number %d", i) {
				t.Fatalf("%s: record %d decodes to %+v", codec, i, rec)
			}
		}
		// A cut inside the file is an error, never a panic; only a cut at a
		// block boundary is itself a valid (shorter) file of whole blocks.
		for cut := 1; cut < len(file); cut += 1 + len(file)/211 {
			if b, err := decodeAvroBatch(bytes.NewReader(file[:cut]), lim); err == nil && len(b.records)%97 != 0 {
				t.Fatalf("%s: a file cut at %d/%d decoded to %d records", codec, cut, len(file), len(b.records))
			}
		}
	}
	empty := makeAvroFile(t, ocf.Null, 0)
	if b, err := decodeAvroBatch(bytes.NewReader(empty), lim); err != nil || len(b.records) != 0 {
		t.Errorf("zero records: %v, %v", b, err)
	}
	if _, err := decodeAvroBatch(strings.NewReader("not avro"), lim); !errors.Is(err, errAvro) {
		t.Errorf("not avro: %v", err)
	}
	big := makeAvroFile(t, ocf.Null, 1000)
	if _, err := decodeAvroBatch(bytes.NewReader(big), avroLimits{body: 1000, decoded: 1 << 20, records: 1 << 20}); !errors.Is(err, errCDAPTooLarge) {
		t.Errorf("over the body limit: %v", err)
	}
	if _, err := decodeAvroBatch(bytes.NewReader(big), avroLimits{body: 1 << 20, decoded: 1 << 20, records: 10}); !errors.Is(err, errAvro) {
		t.Errorf("over the record limit: %v", err)
	}
}

func TestSchemaParseAndRender(t *testing.T) {
	cases := []struct {
		in, want string // want "" = parse error
	}{
		{`{"type":"record","name":"r","fields":[{"name":"a","type":"STRING"}]}`,
			`{"type":"record","name":"r","fields":[{"name":"a","type":"string"}]}`},
		{`{"type":"RECORD","name":"r","doc":"x","fields":[{"name":"a","type":["string","null"],"default":null}]}`,
			`{"type":"record","name":"r","fields":[{"name":"a","type":["string","null"]}]}`},
		{`{"type":"record","name":"node","fields":[{"name":"next","type":["null","node"]},{"name":"m","type":{"type":"map","keys":"string","values":"long"}},{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},{"name":"l","type":{"type":"array","items":{"type":"int"}}}]}`,
			`{"type":"record","name":"node","fields":[{"name":"next","type":["null","node"]},{"name":"m","type":{"type":"map","keys":"string","values":"long"}},{"name":"e","type":{"type":"enum","symbols":["A","B"]}},{"name":"l","type":{"type":"array","items":"int"}}]}`},
		{`"int"`, `"int"`},
		{`"{\"type\":\"record\"}"`, ``},
		{`{"type":"record","fields":[{"name":"a","type":"int"}]}`, ``},
		{`{"type":"record","name":"r"}`, ``},
		{`{"type":"record","name":"r","fields":[]}`, ``},
		{`{"type":"enum","symbols":[]}`, ``},
		{`{"type":"enum","symbols":["a","a"]}`, ``},
		{`[]`, ``},
		{`{"type":"fixed","size":4,"name":"f"}`, ``},
		{`"nope"`, ``},
		{`{"type":"record","name":"r","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}`, ``},
	}
	for _, c := range cases {
		v, err := parseLenientJSON([]byte(c.in))
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		s, err := parseSchema(v)
		if c.want == "" {
			if err == nil {
				t.Errorf("%s: want an error, got %s", c.in, s)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got := s.String(); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

// TestPropsBody covers the properties checks of spec §5.2 (cases 19–25).
func TestPropsBody(t *testing.T) {
	const inv = "Invalid stream configuration. Please check that the configuration is a valid JSON Object with a valid schema. Cause: "
	csv3 := `{"type":"record","name":"event","fields":[{"name":"f1","type":"string"},{"name":"f2","type":"int"},{"name":"f3","type":"double"}]}`
	cases := []struct {
		body string
		want string // error prefix, or "" for success
	}{
		{`ttl:2`, inv},
		{`{"ttl":-1}`, "Invalid TTL -1000. TTL value should be positive."},
		{`{"format":{"settings":{}}}`, "A format name must be specified."},
		{`{"format":{"name":"gibberish"}}`, "Invalid format, unable to instantiate format gibberish"},
		{`{"format":{"name":"text","schema":{"type":"record","name":"r","fields":[{"name":"d","type":"double"}]}}}`, "Format text does not support the requested schema."},
		{`{"notification.threshold.mb":-20}`, "Invalid threshold -20. Threshold value should be greater than zero."},
		{``, inv}, {`null`, inv}, {`   `, inv},
		{`{"ttl":null}`, inv}, {`{"ttl":1.5}`, inv}, {`{"ttl":"abc"}`, inv},
		{`{"notification.threshold.mb":0}`, "Invalid threshold 0. Threshold value should be greater than zero."},
		{`{"notification.threshold.mb":2147483648}`, inv},
		{`{"description":null}`, inv},
		{`{"description":{}}`, inv},
		{`{}`, ""},
		{`{'notification.threshold.mb': 1}`, ""},
		{`{"ttl":"100"}`, ""},
		// Java's parseLong: a sign is fine, spaces are not.
		{`{"ttl":"+100"}`, ""},
		{`{"ttl":+100}`, ""},
		{`{"ttl":" 100"}`, inv},
		{`{"ttl":"100 "}`, inv},
		{`{"notification.threshold.mb":"\t5"}`, inv},
		{`{"notification.threshold.mb":"+5"}`, ""},
		{`{"ttl":9223372036854775807}`, ""},
		{`{"format":null,"description":5}`, ""},
		{`{"format":{"name":"CSV","schema":` + csv3 + `,"settings":{"delimiter":" "}}}`, ""},
		{`{"format":{"name":"tsv"}}`, ""},
		{`{"format":{"name":"avro"}}`, "Format avro does not support the requested schema."},
		{`{"format":{"name":"avro","schema":` + testRecordSchema + `}}`, ""},
		{`{"format":{"name":"csv","schema":{"type":"record","name":"r","fields":[{"name":"m","type":{"type":"map","keys":"string","values":"string"}}]}}}`, "Format csv does not support"},
		{`{"format":{"name":"csv","schema":{"type":"record","name":"r","fields":[{"name":"a","type":"int"},{"name":"rest","type":["null",{"type":"array","items":"string"}]}]}}}`, ""},
		{`{"format":{"name":"text","schema":{"type":"record","name":"r","fields":[{"name":"a","type":["string","null"]}]}}}`, "Format text does not support"},
		{`{"format":{"name":"csv","schema":` + csv3 + `,"settings":{"mapping":"x:f1"}}}`, "Invalid format, unable to instantiate format csv"},
		{`{"format":{"name":"csv","schema":` + csv3 + `,"settings":{"mapping":"0:f1,2:f3"}}}`, ""},
		{`{"format":{"name":"csv","schema":` + csv3 + `,"settings":{"mapping":"0:nope"}}}`, "Invalid format"},
		{`{"format":{"name":"csv","schema":` + csv3 + `,"settings":{"mapping":""}}}`, "Invalid format"},
		{`{"format":{"name":"grok","settings":{"pattern":"%{NOPE"}}}`, ""},
		{`{"format":{"name":"text","schema":"{\"type\":\"record\"}"}}`, inv},
		{`{"format":{"name":"SysLog"}}`, ""},
		{`{"format":{"name":"co.cask.cdap.format.TextRecordFormat","settings":{"charset":"utf8"}}}`, ""},
		{`{"format":{"name":"text","settings":{"charset":"ISO-8859-1"}}}`, ""},
		{`{"format":{"name":"text","settings":{"charset":"klingon-8"}}}`, "Invalid format"},
		{`{"format":{"name":"co.cask.cdap.format.textrecordformat"}}`, "Invalid format"},
		{`{"format":{"name":"clf","schema":{"type":"record","name":"r","fields":[{"name":"a","type":{"type":"array","items":"string"}}]}}}`, "Format clf does not support"},
		{`{"principal":"alice/bob/somehost@SOMEKDC.NET"}`, "Malformed Kerberos name: alice/bob/somehost@SOMEKDC.NET"},
		{`{"principal":""}`, "Malformed Kerberos name: "},
		{`{"principal":"alice/somehost@SOMEKDC.NET"}`, ""},
		{`{"principal":"alice"}`, ""},
		// Order: ttl before format before threshold before principal.
		{`{"principal":"a/b/c@D","notification.threshold.mb":0,"format":{},"ttl":-2}`, "Invalid TTL -2000."},
		{`{"principal":"a/b/c@D","notification.threshold.mb":0,"format":{}}`, "A format name must be specified."},
		{`{"principal":"a/b/c@D","notification.threshold.mb":0}`, "Invalid threshold 0."},
	}
	for _, c := range cases {
		_, _, err := parsePropsBody([]byte(c.body))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: unexpected %q", c.body, err.msg)
		case c.want != "" && err == nil:
			t.Errorf("%s: want %q, got success", c.body, c.want)
		case c.want != "" && !strings.HasPrefix(err.msg, c.want):
			t.Errorf("%s:\n got %q\nwant %q…", c.body, err.msg, c.want)
		}
	}
}

func TestApplyAndRenderProps(t *testing.T) {
	body := `{"ttl":1,"format":{"name":"co.cask.cdap.format.TextRecordFormat","schema":{"type":"record","name":"event","fields":[{"name":"purchase","type":"string"}]},"settings":{"charset":"utf8"}},"notification.threshold.mb":128,"description":"large stream"}`
	req, spec, err := parsePropsBody([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	p, aerr := applyProps(config.DefaultTopicProps(), req, spec)
	if aerr != nil {
		t.Fatal(aerr)
	}
	got := string(renderProps(p))
	want := `{"ttl":1,"format":{"name":"co.cask.cdap.format.TextRecordFormat","schema":{"type":"record","name":"event","fields":[{"name":"purchase","type":"string"}]},"settings":{"charset":"utf8"}},"notification.threshold.mb":128,"description":"large stream"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	def := string(renderProps(config.DefaultTopicProps()))
	if def != `{"ttl":9223372036854775,"format":{"name":"text","schema":{"type":"record","name":"stringBody","fields":[{"name":"body","type":"string"}]},"settings":{}},"notification.threshold.mb":1024}` {
		t.Errorf("defaults: %s", def)
	}
	req, _, _ = parsePropsBody([]byte(`{"ttl":9223372036854775807}`))
	p, _ = applyProps(config.DefaultTopicProps(), req, nil)
	if p.TTLMillis != math.MaxInt64 || !strings.HasPrefix(string(renderProps(p)), `{"ttl":9223372036854775,`) {
		t.Errorf("saturating ttl: %d", p.TTLMillis)
	}
	// The stored format reads back to the same spec.
	back, perr := parseStoredFormat(json.RawMessage(mustJSON(t, spec)))
	if perr != nil || mustJSON(t, back) != mustJSON(t, spec) {
		t.Errorf("stored format round trip: %v", perr)
	}
}

func mustJSON(t *testing.T, v json.Marshaler) string {
	t.Helper()
	b, err := v.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPrincipalMismatch(t *testing.T) {
	a, b := "alice/somehost@SOMEKDC.NET", "bob@SOMEKDC.NET"
	if principalMismatch("s", nil, nil) != nil || principalMismatch("s", &a, &a) != nil {
		t.Error("equal principals must pass")
	}
	e := principalMismatch("owned", nil, &a)
	if e == nil || e.status != http.StatusForbidden || e.msg != "STREAM 'owned' already exists and the specified principal 'null' is not the same as the existing one. The principal of an entity cannot be changed." {
		t.Errorf("absent vs set: %v", e)
	}
	if principalMismatch("s", &b, &a) == nil || principalMismatch("s", &b, nil) == nil {
		t.Error("different principals must fail")
	}
}

func recordsOf(t *testing.T, format string, bodies ...string) []string {
	t.Helper()
	var spec *formatSpec
	if format == "" {
		spec = defaultFormat()
	} else {
		_, s, err := parsePropsBody([]byte(`{"format":` + format + `}`))
		if err != nil {
			t.Fatalf("%s: %s", format, err.msg)
		}
		spec = s
	}
	cf, err := spec.compile()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, b := range bodies {
		ev := &config.Event{Timestamp: int64(i) * 1000, Body: []byte(b)}
		out = append(out, string(cf.appendRecordJSON(nil, ev)))
	}
	return out
}

func TestRecordsDecoding(t *testing.T) {
	got := recordsOf(t, `{"name":"csv","schema":{"type":"record","name":"r","fields":[{"name":"f1","type":"string"},{"name":"f2","type":"int"}]}}`, "a,1", "b,x", "c,", "d")
	if got[0] != `{"timestamp":0,"headers":{},"record":{"f1":"a","f2":1}}` {
		t.Errorf("csv ok: %s", got[0])
	}
	if !strings.HasPrefix(got[1], `{"timestamp":1,"headers":{},"body":"b,x","error":"`) {
		t.Errorf("csv bad int: %s", got[1])
	}
	// An empty or missing column of a non-nullable int is an error.
	for _, g := range got[2:] {
		if !strings.Contains(g, `"error":`) {
			t.Errorf("csv missing column: %s", g)
		}
	}
	got = recordsOf(t, "", "héllo")
	if got[0] != `{"timestamp":0,"headers":{},"record":{"body":"héllo"}}` {
		t.Errorf("text: %s", got[0])
	}
	got = recordsOf(t, `{"name":"csv"}`, "a,,b")
	if got[0] != `{"timestamp":0,"headers":{},"record":{"body":["a","","b"]}}` {
		t.Errorf("csv default: %s", got[0])
	}
	got = recordsOf(t, `{"name":"tsv","schema":{"type":"record","name":"r","fields":[{"name":"a","type":["int","null"]},{"name":"b","type":["boolean","null"]},{"name":"rest","type":{"type":"array","items":"string"}}]}}`, "\ttrue\tx\ty", "5")
	if got[0] != `{"timestamp":0,"headers":{},"record":{"a":null,"b":true,"rest":["x","y"]}}` {
		t.Errorf("tsv: %s", got[0])
	}
	if got[1] != `{"timestamp":1,"headers":{},"record":{"a":5,"b":null,"rest":[]}}` {
		t.Errorf("tsv short: %s", got[1])
	}
	got = recordsOf(t, `{"name":"csv","schema":{"type":"record","name":"r","fields":[{"name":"a","type":["string","null"]},{"name":"b","type":["long","null"]}]},"settings":{"mapping":"1:a"}}`, "x,y")
	if got[0] != `{"timestamp":0,"headers":{},"record":{"a":"y","b":null}}` {
		t.Errorf("csv mapping: %s", got[0])
	}
	got = recordsOf(t, `{"name":"clf"}`, `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://x/" "Mozilla/4.08"`, `1.2.3.4 "unclosed`)
	var clf map[string]any
	if err := json.Unmarshal([]byte(got[0]), &clf); err != nil {
		t.Fatal(err)
	}
	wantCLF := `{"auth_user":"frank","content_length":2326,"referrer":"http://x/","remote_host":"127.0.0.1","remote_login":null,"request":"GET /a.gif HTTP/1.0","request_time":"10/Oct/2000:13:55:36 -0700","status":200,"user_agent":"Mozilla/4.08"}`
	if b, _ := json.Marshal(clf["record"]); string(b) != wantCLF {
		t.Errorf("clf: %s", b)
	}
	if !strings.Contains(got[1], `"error":`) {
		t.Errorf("clf unclosed quote: %s", got[1])
	}
	got = recordsOf(t, `{"name":"syslog"}`, `Oct 11 22:14:15 host1 sshd[123]: Accepted`, `no match here`)
	if got[0] != `{"timestamp":0,"headers":{},"record":{"timestamp":"Oct 11 22:14:15","logsource":"host1","program":"sshd","message":"Accepted","pid":"123"}}` {
		t.Errorf("syslog: %s", got[0])
	}
	if got[1] != `{"timestamp":1,"headers":{},"record":{"timestamp":null,"logsource":null,"program":null,"message":null,"pid":null}}` {
		t.Errorf("syslog no match: %s", got[1])
	}
	got = recordsOf(t, `{"name":"grok","schema":{"type":"record","name":"r","fields":[{"name":"ip","type":["string","null"]},{"name":"n","type":["int","null"]}]},"settings":{"pattern":"%{IP:ip} %{INT:n}"}}`, "from 10.0.0.1 42 z")
	if got[0] != `{"timestamp":0,"headers":{},"record":{"ip":"10.0.0.1","n":42}}` {
		t.Errorf("grok: %s", got[0])
	}
	got = recordsOf(t, `{"name":"grok","settings":{"pattern":"%{NOPE"}}`, "x")
	if !strings.Contains(got[0], `"error":`) {
		t.Errorf("grok bad pattern: %s", got[0])
	}
}

func TestRecordsAvro(t *testing.T) {
	file := makeAvroFile(t, ocf.Snappy, 3)
	b, err := decodeAvroBatch(bytes.NewReader(file), avroLimits{body: 1 << 20, decoded: 1 << 20, records: 100})
	if err != nil {
		t.Fatal(err)
	}
	// The stream schema promotes id to long and reads name as a plain
	// nullable string; the event carries its writer schema.
	stream := `{"name":"avro","schema":{"type":"record","name":"Record","fields":[{"name":"name","type":["string","null"]},{"name":"id","type":"long"}]}}`
	_, spec, perr := parsePropsBody([]byte(`{"format":` + stream + `}`))
	if perr != nil {
		t.Fatal(perr.msg)
	}
	cf, cerr := spec.compile()
	if cerr != nil {
		t.Fatal(cerr)
	}
	ev := &config.Event{Headers: map[string]string{"schema": b.schema}, Body: b.records[2]}
	got := string(cf.appendRecordJSON(nil, ev))
	if !strings.Contains(got, `"record":{"name":"Record number 2","id":2}`) {
		t.Errorf("avro: %s", got)
	}
	bad := &config.Event{Headers: map[string]string{"schema": b.schema}, Body: []byte{0xFF}}
	if got := string(cf.appendRecordJSON(nil, bad)); !strings.Contains(got, `"error":`) {
		t.Errorf("avro bad body: %s", got)
	}
}
