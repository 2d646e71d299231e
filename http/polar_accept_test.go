package http

import "testing"

func TestAcceptsOnlyBinary(t *testing.T) {
	cases := []struct {
		accept []string
		binary bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"application/json"}, false},
		{[]string{"application/json; charset=utf-8"}, false},
		{[]string{"*/*"}, false},
		{[]string{"application/json, */*"}, false},
		{[]string{"application/*"}, false},
		{[]string{"text/html"}, false},
		{[]string{"application/vnd.polar.consumermessage"}, true},
		{[]string{"Application/Vnd.Polar.ConsumerMessage; v=1"}, true},
		{[]string{"application/vnd.polar.consumermessage, "}, true},
		{[]string{"application/vnd.polar.consumermessage", "application/vnd.polar.consumermessage"}, true},
		{[]string{"application/vnd.polar.consumermessage, application/json"}, false},
		{[]string{"application/vnd.polar.consumermessage", "*/*"}, false},
		{[]string{" , "}, false},
	}
	for _, tc := range cases {
		if got := acceptsOnlyBinary(tc.accept); got != tc.binary {
			t.Errorf("acceptsOnlyBinary(%q) = %v, want %v", tc.accept, got, tc.binary)
		}
	}
}
