package pipelines

import (
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

func TestSubstitute(t *testing.T) {
	env := map[string]string{"SET": "hello", "EMPTY": "", "NL": "a\nb"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cases := []struct {
		in, out string
		missing []string
		lenient string
	}{
		{in: "${SET}", out: "hello"},
		{in: "${EMPTY}", out: ""},
		{in: "${UNSET:fb} ${EMPTY:fb} ${SET:fb} ${UNSET:}", out: "fb fb hello "},
		{in: "${{SET}}", out: "${SET}"},
		{in: "${! meta(\"x\") }", out: "${! meta(\"x\") }"},
		{in: "${NL}", out: `a\nb`},
		{in: "${A} ${B} ${A}", missing: []string{"A", "B"}, lenient: "  "},
	}
	for _, c := range cases {
		got, err := Substitute([]byte(c.in), lookup, false)
		var me *MissingEnvError
		switch {
		case c.missing != nil:
			if !errors.As(err, &me) || !reflect.DeepEqual(me.Names, c.missing) {
				t.Errorf("%q: err %v, want missing %v", c.in, err, c.missing)
			}
			got, err = Substitute([]byte(c.in), lookup, true)
			if err != nil || string(got) != c.lenient {
				t.Errorf("%q lenient: %q %v", c.in, got, err)
			}
		case err != nil || string(got) != c.out:
			t.Errorf("%q: %q %v, want %q", c.in, got, err, c.out)
		}
	}
	if (&MissingEnvError{Names: []string{"A", "B"}}).Error() != "required environment variables were not set: [A B]" {
		t.Error("message format")
	}
}

// protectEnv makes Benthos's own interpolation an identity.
func TestProtectEnvRoundTrip(t *testing.T) {
	for _, s := range []string{"${X}", "a ${X:def} b", "no refs"} {
		out, err := Substitute(protectEnv([]byte(s)), func(string) (string, bool) { return "WRONG", true }, false)
		if err != nil || string(out) != s {
			t.Errorf("%q → %q %v", s, out, err)
		}
	}
}

func TestMergePatch(t *testing.T) {
	base := map[string]any{"a": map[string]any{"b": 1, "c": []any{1, 2}}, "d": "x"}
	cases := []struct {
		patch, want any
	}{
		{map[string]any{"a": map[string]any{"b": 2}}, map[string]any{"a": map[string]any{"b": 2, "c": []any{1, 2}}, "d": "x"}},
		{map[string]any{"a": map[string]any{"c": []any{3}}}, map[string]any{"a": map[string]any{"b": 1, "c": []any{3}}, "d": "x"}},
		{map[string]any{"d": nil}, map[string]any{"a": map[string]any{"b": 1, "c": []any{1, 2}}, "d": nil}},
		{map[string]any{"a": "flat"}, map[string]any{"a": "flat", "d": "x"}},
		{[]any{1}, base},
		{nil, base},
	}
	for _, c := range cases {
		if got := MergePatch(base, c.patch); !reflect.DeepEqual(got, c.want) {
			t.Errorf("patch %v: %v, want %v", c.patch, got, c.want)
		}
	}
	if got := MergePatch(nil, map[string]any{"x": 1}); !reflect.DeepEqual(got, map[string]any{"x": 1}) {
		t.Errorf("nil base: %v", got)
	}
	if base["a"].(map[string]any)["b"] != 1 {
		t.Error("base modified")
	}
}

func TestIsolateSections(t *testing.T) {
	cases := []struct{ in, unknown string }{
		{"input: {}\nmetrics:\n  x: 1\n", "metrics"},
		{`{"input":{},"logger":{"level":"x"}}`, "logger"},
		{"'http': {}\n", "http"},
	}
	for _, c := range cases {
		root, err := parseNode([]byte(c.in))
		if err != nil {
			t.Fatal(err)
		}
		out, unknown, err := isolateSections([]byte(c.in), root)
		if err != nil || len(unknown) != 1 || unknown[0].Name != c.unknown || len(out) != len(c.in) {
			t.Errorf("%q: %q %v %v", c.in, out, unknown, err)
		}
		if r2, err := parseNode(out); err != nil || r2.Content[len(r2.Content)-2].Value == c.unknown && c.unknown != "input" {
			t.Errorf("%q: key not renamed in %q (%v)", c.in, out, err)
		}
	}
}

func TestSplitStreamSet(t *testing.T) {
	body := "a:\n  input:\n    generate:\n      mapping: root = 1\nb: {input: {generate: {mapping: root = 2}}}\n"
	set, err := SplitStreamSet([]byte(body))
	if err != nil || len(set) != 2 {
		t.Fatalf("%v %v", set, err)
	}
	if got := string(set["a"].LintText); got != "\n  input:\n    generate:\n      mapping: root = 1\n\n" {
		t.Errorf("a lint text %q", got)
	}
	if got := string(set["b"].LintText); got != "\n\n\n\n   {input: {generate: {mapping: root = 2}}}\n" {
		t.Errorf("b lint text %q", got)
	}
	echo, _ := Echo(set["b"].Text)
	if !reflect.DeepEqual(echo, map[string]any{"input": map[string]any{"generate": map[string]any{"mapping": "root = 2"}}}) {
		t.Errorf("b text %q", set["b"].Text)
	}
	if _, err := SplitStreamSet([]byte("[1,2,3]")); err == nil || err.Error() != "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!seq into map[string]yaml.Node" {
		t.Errorf("seq: %v", err)
	}
}

// isolateSections never panics, keeps the byte length when it renames in
// place, and its output still parses.
func FuzzIsolateSections(f *testing.F) {
	for _, s := range []string{"input: {}\nmetrics: {}\n", `{"a":1,"input":{}}`, "\"é\": 1\n", "'x''y': 1\n", "? a\n: b\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		root, err := parseNode([]byte(s))
		if err != nil {
			return
		}
		out, _, err := isolateSections([]byte(s), root)
		if err != nil {
			return
		}
		if _, err := parseNode(out); err != nil {
			t.Fatalf("output of %q does not parse: %q: %v", s, out, err)
		}
	})
}

// SplitStreamSet never panics on arbitrary bodies.
func FuzzSplitStreamSet(f *testing.F) {
	f.Add("a:\n  input: {}\nb: {}\n")
	f.Add("{}")
	f.Add("a: [1, {b: 2}]\n")
	f.Fuzz(func(t *testing.T, s string) {
		set, err := SplitStreamSet([]byte(s))
		if err != nil {
			return
		}
		for id, m := range set {
			if _, err := parseNode(m.Text); err != nil {
				t.Fatalf("%q: member %q text %q does not parse: %v", s, id, m.Text, err)
			}
		}
	})
}
