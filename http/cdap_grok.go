package http

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Grok patterns for the grok and syslog formats' `format=records` reads.
// `%{NAME}` expands a library pattern, `%{NAME:field}` also captures it under
// `field` (a third `:type` part is accepted and ignored: the stream schema
// decides types). Captures inside library patterns count too, which is how
// `%{SYSLOGLINE:syslogline}` fills timestamp, logsource, program, pid and
// message. Matching is unanchored, like java-grok's find().
//
// The library is weir's own compact set of the patterns the default
// formats and common log lines need, written for RE2 (no look-around).

var grokLibrary = map[string]string{
	"USERNAME":          `[a-zA-Z0-9._-]+`,
	"USER":              `%{USERNAME}`,
	"INT":               `(?:[+-]?[0-9]+)`,
	"BASE10NUM":         `(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))`,
	"NUMBER":            `%{BASE10NUM}`,
	"BASE16NUM":         `(?:[+-]?(?:0x)?[0-9A-Fa-f]+)`,
	"POSINT":            `\b[1-9][0-9]*\b`,
	"NONNEGINT":         `\b[0-9]+\b`,
	"WORD":              `\b\w+\b`,
	"NOTSPACE":          `\S+`,
	"SPACE":             `\s*`,
	"DATA":              `.*?`,
	"GREEDYDATA":        `.*`,
	"QUOTEDSTRING":      `(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`(?:[^`\\\\]|\\\\.)*`)",
	"UUID":              `[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}`,
	"IPV4":              `(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])`,
	"IPV6":              `(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:|(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}|::(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}|::`,
	"IP":                `(?:%{IPV6}|%{IPV4})`,
	"HOSTNAME":          `\b[0-9A-Za-z][0-9A-Za-z-]{0,62}(?:\.[0-9A-Za-z][0-9A-Za-z-]{0,62})*\.?\b`,
	"HOST":              `%{HOSTNAME}`,
	"IPORHOST":          `(?:%{IP}|%{HOSTNAME})`,
	"HOSTPORT":          `%{IPORHOST}:%{POSINT}`,
	"UNIXPATH":          `(?:/[^/\s?#]*)+`,
	"URIPROTO":          `[A-Za-z][A-Za-z0-9+.-]*`,
	"URIHOST":           `%{IPORHOST}(?::%{POSINT})?`,
	"URIPATH":           `(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\-]*)+`,
	"URIPARAM":          `\?[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\-\[\]<>]*`,
	"URIPATHPARAM":      `%{URIPATH}(?:%{URIPARAM})?`,
	"URI":               `%{URIPROTO}://(?:%{USER}(?::[^@]*)?@)?(?:%{URIHOST})?(?:%{URIPATHPARAM})?`,
	"MONTH":             `\b(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:tember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b`,
	"MONTHNUM":          `(?:0?[1-9]|1[0-2])`,
	"MONTHDAY":          `(?:0[1-9]|[12][0-9]|3[01]|[1-9])`,
	"DAY":               `(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)`,
	"YEAR":              `(?:[0-9]{2}){1,2}`,
	"HOUR":              `(?:2[0-3]|[01]?[0-9])`,
	"MINUTE":            `[0-5][0-9]`,
	"SECOND":            `(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?`,
	"TIME":              `%{HOUR}:%{MINUTE}(?::%{SECOND})?`,
	"ISO8601_TIMEZONE":  `(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))`,
	"TIMESTAMP_ISO8601": `%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?`,
	"HTTPDATE":          `%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}`,
	"LOGLEVEL":          `(?i:alert|trace|debug|notice|info|warn(?:ing)?|err(?:or)?|crit(?:ical)?|fatal|severe|emerg(?:ency)?)`,

	"SYSLOGTIMESTAMP": `%{MONTH} +%{MONTHDAY} %{TIME}`,
	"PROG":            `[\x21-\x5a\x5c\x5e-\x7e]+`,
	"SYSLOGPROG":      `%{PROG:program}(?:\[%{POSINT:pid}\])?`,
	"SYSLOGHOST":      `%{IPORHOST}`,
	"SYSLOGFACILITY":  `<%{NONNEGINT:facility}.%{NONNEGINT:priority}>`,
	"SYSLOGBASE":      `%{SYSLOGTIMESTAMP:timestamp} (?:%{SYSLOGFACILITY} )?%{SYSLOGHOST:logsource} %{SYSLOGPROG}:`,
	"SYSLOGLINE":      `%{SYSLOGBASE} %{GREEDYDATA:message}`,

	"QS":                `%{QUOTEDSTRING}`,
	"COMMONAPACHELOG":   `%{IPORHOST:clientip} %{USER:ident} %{USER:auth} \[%{HTTPDATE:timestamp}\] "(?:%{WORD:verb} %{NOTSPACE:request}(?: HTTP/%{NUMBER:httpversion})?|%{DATA:rawrequest})" %{NUMBER:response} (?:%{NUMBER:bytes}|-)`,
	"COMBINEDAPACHELOG": `%{COMMONAPACHELOG} %{QS:referrer} %{QS:agent}`,
}

// grokPattern is a compiled pattern: the regexp and, per capture group, the
// field it fills ("" for groups that are not captures).
type grokPattern struct {
	re     *regexp.Regexp
	fields []string
}

// maxGrokExpansion bounds pattern expansion (self-referencing patterns).
const maxGrokExpansion = 1 << 16

func compileGrok(pattern string) (*grokPattern, error) {
	var fields []string
	expanded, err := expandGrok(pattern, 0, &fields)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(expanded)
	if err != nil {
		return nil, fmt.Errorf("grok pattern does not compile: %v", err)
	}
	g := &grokPattern{re: re, fields: make([]string, re.NumSubexp()+1)}
	for i, name := range re.SubexpNames() {
		if strings.HasPrefix(name, "g") && name != "" {
			var k int
			if _, err := fmt.Sscanf(name, "g%d", &k); err == nil && k < len(fields) {
				g.fields[i] = fields[k]
			}
		}
	}
	return g, nil
}

func expandGrok(p string, depth int, fields *[]string) (string, error) {
	if depth > 32 {
		return "", errors.New("grok patterns nest too deep (a pattern refers to itself?)")
	}
	var b strings.Builder
	for {
		i := strings.Index(p, "%{")
		if i < 0 {
			b.WriteString(p)
			break
		}
		b.WriteString(p[:i])
		end := strings.IndexByte(p[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unclosed %%{ in grok pattern")
		}
		ref := p[i+2 : i+end]
		p = p[i+end+1:]
		name, field, _ := strings.Cut(ref, ":")
		if f, _, ok := strings.Cut(field, ":"); ok {
			field = f
		}
		def, ok := grokLibrary[name]
		if !ok {
			return "", fmt.Errorf("unknown grok pattern %q", name)
		}
		inner, err := expandGrok(def, depth+1, fields)
		if err != nil {
			return "", err
		}
		if field != "" {
			*fields = append(*fields, field)
			fmt.Fprintf(&b, "(?P<g%d>%s)", len(*fields)-1, inner)
		} else {
			b.WriteString("(?:" + inner + ")")
		}
		if b.Len() > maxGrokExpansion {
			return "", errors.New("grok pattern expands too far")
		}
	}
	return b.String(), nil
}

// match returns field → first non-empty capture; nil when nothing matched.
func (g *grokPattern) match(s string) map[string]string {
	m := g.re.FindStringSubmatchIndex(s)
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for i := 1; i < len(g.fields); i++ {
		f := g.fields[i]
		if f == "" || m[2*i] < 0 {
			continue
		}
		if prev, ok := out[f]; ok && prev != "" {
			continue
		}
		out[f] = s[m[2*i]:m[2*i+1]]
	}
	return out
}
