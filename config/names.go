package config

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest namespace, topic or group name in bytes.
// Namespace and topic names become directory names, and 255 bytes is the
// common file-name limit; groups share the bound.
const MaxNameLen = 255

// DefaultNamespace always exists and cannot be deleted.
const DefaultNamespace = "default"

// ValidateNamespace checks a namespace name: [A-Za-z0-9_]{1,255}.
// It must run before any file path is built from the name.
func ValidateNamespace(ns string) error {
	if !validName(ns, false) {
		return fmt.Errorf("%w: namespace %q must be 1-%d characters of [A-Za-z0-9_]", ErrInvalidName, ns, MaxNameLen)
	}
	return nil
}

// ValidateTopic checks a topic name: [A-Za-z0-9._-]{1,255}, not "." or "..".
func ValidateTopic(topic string) error {
	if !validName(topic, true) || topic == "." || topic == ".." {
		return fmt.Errorf("%w: topic %q must be 1-%d characters of [A-Za-z0-9._-] and not . or ..", ErrInvalidName, topic, MaxNameLen)
	}
	return nil
}

// ValidateGroup checks a consumer-group name: 1-255 bytes of UTF-8 text
// without control characters. A group's files are named by its id, never
// by its name, so a group may be called anything printable, as Kafka and
// PolarStreams group ids may ("orders service", "team:billing", "日本").
// Control characters are refused because names go into logs and metric
// labels verbatim.
func ValidateGroup(group string) error {
	if len(group) == 0 || len(group) > MaxNameLen || !utf8.ValidString(group) || strings.ContainsFunc(group, unicode.IsControl) {
		return fmt.Errorf("%w: group %q must be 1-%d bytes of UTF-8 text without control characters", ErrInvalidName, group, MaxNameLen)
	}
	return nil
}

func validName(s string, dotDash bool) bool {
	if len(s) == 0 || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case dotDash && (c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}
