package cli

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// jsonValues is what eachPollValue must agree with: the "values" elements
// encoding/json finds, compacted.
func jsonValues(body []byte) ([]string, error) {
	var items []pollItem
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, err
	}
	var out []string
	for _, it := range items {
		for _, v := range it.Values {
			out = append(out, string(v))
		}
	}
	return out, nil
}

func scanValues(body []byte) ([]string, error) {
	var out []string
	err := eachPollValue(body, func(v []byte) { out = append(out, string(v)) })
	return out, err
}

func TestEachPollValue(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string
		bad        bool
	}{
		{"empty array", `[]`, nil, false},
		{"one item", `[{"topic":"t","rangeIndex":1,"startOffset":"0","values":[{"a":1},"x",3,true,null]}]`,
			[]string{`{"a":1}`, `"x"`, `3`, `true`, `null`}, false},
		{"two items, spaces", " [ {\"values\" : [ 1 , 2 ] , \"topic\":\"a\"} ,\n{\"topic\":\"b\",\"values\":[[1,[2]],{\"k\":\"]}\"}]} ] ",
			[]string{`1`, `2`, `[1,[2]]`, `{"k":"]}"}`}, false},
		{"escaped quotes and backslashes", `[{"values":["a\"b","c\\","d\\\"e",{"x":"\\"}]}]`,
			[]string{`"a\"b"`, `"c\\"`, `"d\\\"e"`, `{"x":"\\"}`}, false},
		{"no values key", `[{"topic":"t"}]`, nil, false},
		{"empty values", `[{"values":[]}]`, nil, false},
		{"empty object", `[{}]`, nil, false},
		{"not an array", `{"values":[1]}`, nil, true},
		{"truncated", `[{"values":[1,2`, nil, true},
		{"unterminated string", `[{"values":["abc]}]`, nil, true},
		{"values not an array", `[{"values":1}]`, nil, true},
		{"trailing data", `[] x`, nil, true},
		{"empty body", ``, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scanValues([]byte(tc.body))
			if tc.bad {
				if err == nil {
					t.Fatalf("no error for %q (got %q)", tc.body, got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			if want, err := jsonValues([]byte(tc.body)); err == nil && !slices.Equal(compact(t, got), compact(t, want)) {
				t.Fatalf("disagrees with encoding/json: %q vs %q", got, want)
			}
		})
	}
}

func compact(t *testing.T, vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		var b []byte
		var err error
		if b, err = json.Marshal(json.RawMessage(v)); err != nil {
			t.Fatalf("compact %q: %v", v, err)
		}
		out[i] = string(b)
	}
	return out
}

// FuzzEachPollValue: on any input the scan ends without panicking, and on
// every valid poll answer in which the key "values" appears only as one
// item member (encoding/json would also match "VALUES" or an escaped
// spelling, and keep the last of duplicate keys) it finds the same values
// encoding/json does.
func FuzzEachPollValue(f *testing.F) {
	for _, s := range []string{
		`[]`, `[{"topic":"t","values":[{"a":[1,2]},"x\"y",3]}]`, `[{"values":["\\\\"]},{"values":[]}]`,
		`[{"values":[1,2`, `[{"k":{"v":[9]},"values":[1]}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := scanValues(body)
		var items []map[string]json.RawMessage
		if json.Unmarshal(body, &items) != nil {
			return // not a poll answer; the scan may accept or refuse it
		}
		var want []string
		n := 0
		for _, it := range items {
			raw, ok := it["values"]
			if !ok {
				continue
			}
			n++
			var vs []json.RawMessage
			if json.Unmarshal(raw, &vs) != nil {
				return // "values" is not an array: refusing it is right
			}
			for _, v := range vs {
				want = append(want, string(v))
			}
		}
		if bytes.Count(body, []byte(`"values"`)) != n {
			return // the key also appears elsewhere (nested, duplicated, in a string)
		}
		if err != nil {
			t.Fatalf("valid answer %q refused: %v", body, err)
		}
		if g, w := compact(t, got), compact(t, want); !slices.Equal(g, w) {
			t.Fatalf("%q: scan %q, encoding/json %q", body, g, w)
		}
	})
}
