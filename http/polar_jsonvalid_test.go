package http

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

var jsonValidCases = []string{
	`{"a":1}`, `42`, `"s"`, ` [1, 2] `, `not json at all`, `{"a":`, "a\"b\\c\n", "\x22\xff\x22", "\xff\xfe",
	``, ` `, `null`, `nul`, `true`, `truex`, `false`, `-`, `-0`, `01`, `1.`, `1.5e`, `1.5e+3`, `-0.0E-0`, `1 2`,
	`[]`, `[,]`, `[1,]`, `{}`, `{"a"}`, `{"a":1,}`, `{1:2}`, `"\u00e9"`, `"\u00G9"`, `"\x"`, `"\/"`, "\"\t\"",
	`"é"`, "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", `[[[]]]`, `[[[]]`, `{"a":{"b":[true,false,null]}}`,
	"\ufeff{}", "{}\x00", `"unterminated`, `"\`, `"\u12`, `[1e999]`, `{"a":1}{"b":2}`, "\r\n\t 7 \r\n\t",
}

// TestValidJSONValue: the fast splice test agrees with
// utf8.Valid && json.Valid on hand-picked cases, including the depth limit.
func TestValidJSONValue(t *testing.T) {
	cases := append([]string{}, jsonValidCases...)
	for _, d := range []int{maxSpliceDepth - 1, maxSpliceDepth, maxSpliceDepth + 1} {
		cases = append(cases, strings.Repeat("[", d)+strings.Repeat("]", d))
		cases = append(cases, strings.Repeat(`{"a":`, d)+"1"+strings.Repeat("}", d))
	}
	for _, c := range cases {
		want := utf8.ValidString(c) && json.Valid([]byte(c))
		if got := validJSONValue([]byte(c)); got != want {
			t.Errorf("validJSONValue(%.40q) = %v, want %v", c, got, want)
		}
	}
}

// FuzzValidJSONValue checks the fast splice test against the standard
// library on any input.
func FuzzValidJSONValue(f *testing.F) {
	for _, c := range jsonValidCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := utf8.Valid(b) && json.Valid(b)
		if got := validJSONValue(b); got != want {
			t.Fatalf("validJSONValue(%q) = %v, want %v", b, got, want)
		}
	})
}

func BenchmarkValidJSONValue(b *testing.B) {
	ev := []byte(`{"i":12345,"name":"clé","tags":["a","b"],"pad":"` + strings.Repeat("x", 960) + `"}`)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(ev)))
		for i := 0; i < b.N; i++ {
			if !validJSONValue(ev) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(ev)))
		for i := 0; i < b.N; i++ {
			if !utf8.Valid(ev) || !json.Valid(ev) {
				b.Fatal("invalid")
			}
		}
	})
}
