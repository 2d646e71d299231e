package http

import "strings"

// polarBinaryMediaType is PolarStreams' binary consumer format, which weir
// does not serve yet (spec §7).
const polarBinaryMediaType = "application/vnd.polar.consumermessage"

// acceptsOnlyBinary reports whether a poll's Accept headers name only the
// binary consumer format, the one case answered 406 (6b). JSON is served for
// no or empty Accept, for any media range that is application/json (any
// parameters), application/* or */*, and for every other Accept that is not
// binary-only: ordinary HTTP clients always get JSON. Upstream served JSON
// only for the exact string "application/json".
func acceptsOnlyBinary(values []string) bool {
	seen := false
	for _, v := range values {
		for _, r := range strings.Split(v, ",") {
			mt, _, _ := strings.Cut(r, ";")
			mt = strings.TrimSpace(mt)
			if mt == "" {
				continue
			}
			if !strings.EqualFold(mt, polarBinaryMediaType) {
				return false
			}
			seen = true
		}
	}
	return seen
}
