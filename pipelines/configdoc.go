package pipelines

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// streamSections are the only top-level keys a stream config may have.
var streamSections = map[string]bool{"input": true, "buffer": true, "pipeline": true, "output": true}

// parseNode parses a YAML (or JSON) body into its document's content node;
// nil for an empty document. Errors read like Benthos's: "yaml: line 1: ...".
func parseNode(text []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// Echo decodes a stored config text into the plain value the API echoes:
// maps with string keys, slices and scalars. An empty config is nil.
func Echo(text []byte) (any, error) {
	var v any
	if err := yaml.Unmarshal(text, &v); err != nil {
		return nil, err
	}
	return normalise(v), nil
}

// normalise turns YAML's map[any]any (non-string keys) into map[string]any so
// the value can be rendered as JSON.
func normalise(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalise(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = normalise(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = normalise(e)
		}
		return t
	default:
		return v
	}
}

// RenderYAML renders a plain value as YAML with sorted keys and a two-space
// indent: the stored text of a PATCHed config.
func RenderYAML(v any) ([]byte, error) {
	if v == nil {
		return []byte{}, nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MergePatch deep-merges patch into base (both plain values) and returns the
// result without modifying either. Objects merge key by key; any other patch
// value (scalar, array, null) replaces the target whole. A nil base counts as
// an empty object; a patch root that is not an object merges nothing.
func MergePatch(base, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return deepCopy(base)
	}
	bm, ok := base.(map[string]any)
	if !ok {
		bm = map[string]any{}
	}
	return mergeMaps(bm, pm)
}

func mergeMaps(base, patch map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(patch))
	for k, v := range base {
		out[k] = deepCopy(v)
	}
	for k, pv := range patch {
		if pm, ok := pv.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(bm, pm)
				continue
			}
		}
		out[k] = deepCopy(pv)
	}
	return out
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = deepCopy(e)
		}
		return s
	default:
		return v
	}
}

// unknownKey is a top-level key of a stream config that is not a stream
// section (resources, metrics, logger, ...).
type unknownKey struct {
	Name string
	Line int
}

// isolateSections returns a copy of a stream config text in which every
// top-level key other than input/buffer/pipeline/output is renamed, in place
// and with the same byte length, to a name no Benthos config knows. Benthos's
// full-config linter then reports each such key as one unrecognised field
// without linting (or building) its children, exactly like the streams-mode
// linter, and every other position in the text stays where the client put it.
// When a key cannot be renamed in place (escaped quoted keys) the pair is
// dropped and the document re-encoded, which keeps the semantics but not the
// positions.
func isolateSections(text []byte, root *yaml.Node) ([]byte, []unknownKey, error) {
	if root == nil || root.Kind != yaml.MappingNode {
		return text, nil, nil
	}
	var unknown []unknownKey
	existing := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		existing[root.Content[i].Value] = true
	}
	out := append([]byte(nil), text...)
	lineStarts := lineOffsets(out)
	renamed := 0
	var drop []int
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if k.Kind == yaml.ScalarNode && streamSections[k.Value] && k.Tag == "!!str" {
			continue
		}
		unknown = append(unknown, unknownKey{Name: k.Value, Line: k.Line})
		start, ok := keyOffset(out, lineStarts, k)
		if !ok {
			drop = append(drop, i)
			continue
		}
		var name string
		for {
			name = placeholderName(renamed, len(k.Value))
			renamed++
			if !existing[name] {
				break
			}
		}
		copy(out[start:start+len(k.Value)], name)
	}
	if len(drop) == 0 {
		return out, unknown, nil
	}
	// Fallback: re-parse the renamed text (pair indices are unchanged), drop
	// the pairs we could not rename, and re-encode.
	renamedRoot, err := parseNode(out)
	if err != nil {
		return nil, nil, err
	}
	dropSet := map[int]bool{}
	for _, i := range drop {
		dropSet[i] = true
	}
	c := *renamedRoot
	c.Content = nil
	for i := 0; i+1 < len(renamedRoot.Content); i += 2 {
		if !dropSet[i] {
			c.Content = append(c.Content, renamedRoot.Content[i], renamedRoot.Content[i+1])
		}
	}
	enc, err := yaml.Marshal(&c)
	if err != nil {
		return nil, nil, err
	}
	return enc, unknown, nil
}

// placeholderName gives the n-th replacement key of a given byte length:
// upper-case letters, which no Benthos field uses.
func placeholderName(n, length int) string {
	b := []byte(strings.Repeat("Q", length))
	for i := length - 1; i >= 0 && n > 0; i-- {
		b[i] = byte('A' + n%26)
		n /= 26
	}
	return string(b)
}

func lineOffsets(text []byte) []int {
	starts := []int{0}
	for i, c := range text {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// keyOffset finds the byte offset of a key's characters in text from its
// node position, and checks the text there really is the key (plain or
// quoted without escapes).
func keyOffset(text []byte, lineStarts []int, k *yaml.Node) (int, bool) {
	if k.Kind != yaml.ScalarNode || k.Line < 1 || k.Line > len(lineStarts) || k.Value == "" {
		return 0, false
	}
	off := lineStarts[k.Line-1]
	// yaml.v3 columns count characters, 1-based.
	for col := 1; col < k.Column; col++ {
		if off >= len(text) {
			return 0, false
		}
		_, size := utf8.DecodeRune(text[off:])
		off += size
	}
	switch k.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		// Escapes make the raw text differ from the value.
		if strings.ContainsAny(k.Value, "'\"\\") {
			return 0, false
		}
		off++
	case 0:
	default:
		return 0, false
	}
	if off+len(k.Value) > len(text) || string(text[off:off+len(k.Value)]) != k.Value {
		return 0, false
	}
	return off, true
}
