package config

import (
	"math"
	"testing"
)

// The vectors of spec/polarstreams.md §3 (conformance cases 21 and 22).
func TestTokenVectors(t *testing.T) {
	cases := []struct {
		key       string
		token     int64
		p4, p12   int
		checkPart bool
	}{
		{"123", -7468325962851647638, 0, 1, true},
		{"567", 121043304653486666, 2, 6, true},
		{"234", 7965679026441812387, 3, 11, true},
		{"clé", 2939400319717671061, 2, 7, true},
		{"hello", -3758069500696749310, 1, 0, false},
		{"日本語キー", -2282031165555333249, 0, 0, false},
	}
	for _, c := range cases {
		if got := Token([]byte(c.key)); got != c.token {
			t.Errorf("Token(%q) = %d, want %d", c.key, got, c.token)
		}
		if c.checkPart {
			if got := PartitionForKey([]byte(c.key), 4); got != c.p4 {
				t.Errorf("PartitionForKey(%q, 4) = %d, want %d", c.key, got, c.p4)
			}
			if got := PartitionForKey([]byte(c.key), 12); got != c.p12 {
				t.Errorf("PartitionForKey(%q, 12) = %d, want %d", c.key, got, c.p12)
			}
		}
	}
	if got := PartitionForKey([]byte("hello"), 4); got != 1 {
		t.Errorf("hello at P=4 = %d, want 1", got)
	}
	// The unsigned-tail variant gives this for "clé"; weir must not.
	if Token([]byte("clé")) == 1321693963706976599 {
		t.Error("clé hashed with unsigned tail bytes")
	}
}

func TestPartitionBoundaries(t *testing.T) {
	for _, p := range []int{1, 3, 4, 12} {
		if got := PartitionForToken(math.MinInt64, p); got != 0 {
			t.Errorf("P=%d MinInt64 → %d, want 0", p, got)
		}
		if got := PartitionForToken(math.MaxInt64, p); got != p-1 {
			t.Errorf("P=%d MaxInt64 → %d, want %d", p, got, p-1)
		}
	}
	cases := []struct {
		token int64
		p     int
		want  int
	}{
		{-1, 4, 1}, {0, 4, 2}, {math.MinInt64 + 1<<62, 4, 1}, {0, 3, 1},
	}
	for _, c := range cases {
		if got := PartitionForToken(c.token, c.p); got != c.want {
			t.Errorf("PartitionForToken(%d, %d) = %d, want %d", c.token, c.p, got, c.want)
		}
	}
}

// The keys of conformance case 23 land where the spec says at P=4.
func TestPartitionKeysK0K9(t *testing.T) {
	want := map[string]int{"k1": 0, "k8": 0, "k5": 1, "k7": 1, "k2": 2, "k3": 2, "k4": 2, "k0": 3, "k6": 3, "k9": 3}
	for k, p := range want {
		if got := PartitionForKey([]byte(k), 4); got != p {
			t.Errorf("%s → %d, want %d", k, got, p)
		}
	}
}
