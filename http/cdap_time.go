package http

import (
	"errors"
	"math"
	"strconv"
)

// errTimeFormat is returned for any start/end value outside the grammar of
// spec §7; the handler answers 400 `invalid time format <value>`.
var errTimeFormat = errors.New("invalid time format")

// parseCDAPTime parses a `start`/`end` value in milliseconds since the epoch:
// decimal digits fitting an int64, `now`, or `now` followed by terms
// `+N<unit>`/`-N<unit>` (units ms, s, m, h, d). Lower case only, no spaces.
// now is read once per request by the caller so that start, end and TTL
// clamping agree. Time math that leaves the int64 range is an error rather
// than a wrap-around; a negative result is returned as is (the caller answers
// "must be >= 0").
func parseCDAPTime(v string, now int64) (int64, error) {
	if v == "" {
		return 0, errTimeFormat
	}
	if v[0] >= '0' && v[0] <= '9' {
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return 0, errTimeFormat
			}
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, errTimeFormat
		}
		return n, nil
	}
	if len(v) < 3 || v[:3] != "now" {
		return 0, errTimeFormat
	}
	t := now
	i := 3
	for i < len(v) {
		sign := v[i]
		if sign != '+' && sign != '-' {
			return 0, errTimeFormat
		}
		i++
		start := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == start {
			return 0, errTimeFormat
		}
		n, err := strconv.ParseInt(v[start:i], 10, 64)
		if err != nil {
			return 0, errTimeFormat
		}
		var unit int64
		switch {
		case hasPrefixAt(v, i, "ms"):
			unit, i = 1, i+2
		case hasPrefixAt(v, i, "s"):
			unit, i = 1000, i+1
		case hasPrefixAt(v, i, "m"):
			unit, i = 60*1000, i+1
		case hasPrefixAt(v, i, "h"):
			unit, i = 3600*1000, i+1
		case hasPrefixAt(v, i, "d"):
			unit, i = 24*3600*1000, i+1
		default:
			return 0, errTimeFormat
		}
		if n > math.MaxInt64/unit {
			return 0, errTimeFormat
		}
		d := n * unit
		if sign == '-' {
			d = -d
		}
		if (d > 0 && t > math.MaxInt64-d) || (d < 0 && t < math.MinInt64-d) {
			return 0, errTimeFormat
		}
		t += d
	}
	return t, nil
}

func hasPrefixAt(s string, i int, p string) bool {
	return len(s)-i >= len(p) && s[i:i+len(p)] == p
}

// eventsQuery is a validated `…/events` query.
type eventsQuery struct {
	start, end int64 // ms, raw (before TTL/now clamping)
	limit      int
	records    bool
}

// parseEventsQuery applies steps 1 and 2 of spec §7 in order. get returns a
// query parameter and whether it was present.
func parseEventsQuery(get func(string) (string, bool), now int64) (eventsQuery, *cdapErr) {
	q := eventsQuery{start: 0, end: math.MaxInt64, limit: math.MaxInt32}
	if v, ok := get("start"); ok {
		t, err := parseCDAPTime(v, now)
		if err != nil {
			return q, cdapBadRequest("invalid time format %s", v)
		}
		q.start = t
	}
	if v, ok := get("end"); ok {
		t, err := parseCDAPTime(v, now)
		if err != nil {
			return q, cdapBadRequest("invalid time format %s", v)
		}
		q.end = t
	}
	limit := int64(math.MaxInt32)
	if v, ok := get("limit"); ok {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return q, cdapBadRequest("invalid limit %s", v)
		}
		limit = n
	}
	if v, ok := get("format"); ok {
		switch v {
		case "raw":
		case "records":
			q.records = true
		default:
			return q, cdapBadRequest("Unknown events format %s. Use raw or records.", v)
		}
	}
	switch {
	case q.start < 0:
		return q, cdapBadRequest("Start time must be >= 0")
	case q.end < 0:
		return q, cdapBadRequest("End time must be >= 0")
	case q.start >= q.end:
		return q, cdapBadRequest("Start time must be smaller than end time")
	case limit <= 0:
		return q, cdapBadRequest("Cannot request for <=0 events")
	}
	q.limit = int(limit)
	return q, nil
}

// clampRange applies step 4 of §7 and converts to the engine's microseconds:
// start = max(start, now − ttl), end = min(end, now). ok is false when the
// range is empty (then the answer is 204 without asking the engine).
func clampRange(q eventsQuery, now, ttlMillis int64) (fromMicros, toMicros int64, ok bool) {
	start, end := q.start, q.end
	if ttlMillis >= 0 && now-ttlMillis > start {
		start = now - ttlMillis
	}
	if end > now {
		end = now
	}
	if start >= end {
		return 0, 0, false
	}
	return mulSaturating(start, 1000), mulSaturating(end, 1000), true
}
