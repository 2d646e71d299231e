package pipelines

import (
	"bytes"
	"sort"

	"go.yaml.in/yaml/v3"

	"github.com/weirflow/weir/config"
)

// SetMember is one stream of a POST /streams body.
type SetMember struct {
	// Text is the stream's config on its own (re-encoded): what is stored.
	Text []byte
	// LintText is the whole body with everything but this stream's config
	// blanked out, so lint positions count from the start of the body.
	LintText []byte
}

// SplitStreamSet decodes a POST /streams body (id → config). A body that is
// not a mapping fails with yaml's own message ("cannot unmarshal !!seq into
// map[string]yaml.Node"), as Benthos reports it.
func SplitStreamSet(text []byte) (map[string]SetMember, error) {
	var probe map[string]yaml.Node
	if err := yaml.Unmarshal(text, &probe); err != nil {
		return nil, err
	}
	out := make(map[string]SetMember, len(probe))
	root, err := parseNode(text)
	if err != nil {
		return nil, err
	}
	if root == nil || root.Kind != yaml.MappingNode {
		return out, nil
	}
	lines := bytes.SplitAfter(text, []byte("\n"))
	// Values sharing lines (flow style) cannot be isolated by blanking
	// lines; they are linted on their own text instead.
	starts := make([]int, 0, len(root.Content)/2)
	for i := 1; i < len(root.Content); i += 2 {
		starts = append(starts, root.Content[i].Line)
	}
	shared := false
	for i := 1; i < len(starts); i++ {
		if starts[i] <= starts[i-1] {
			shared = true
		}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		enc, err := encodeNode(v)
		if err != nil {
			return nil, err
		}
		m := SetMember{Text: enc, LintText: enc}
		if !shared {
			end := len(lines) + 1 // exclusive, 1-based
			if i+2 < len(root.Content) {
				end = root.Content[i+2].Line
			}
			m.LintText = blankOutside(lines, v, end)
		}
		out[k.Value] = m
	}
	return out, nil
}

func encodeNode(v *yaml.Node) ([]byte, error) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return []byte{}, nil
	}
	return RenderYAML(v)
}

// blankOutside keeps the lines [v.Line, end) of the body, blanks the text
// before v's column on its first line, and empties every other line.
func blankOutside(lines [][]byte, v *yaml.Node, end int) []byte {
	var buf bytes.Buffer
	for i, l := range lines {
		n := i + 1
		nl := bytes.HasSuffix(l, []byte("\n"))
		switch {
		case n < v.Line || n >= end:
		case n == v.Line:
			runes := []rune(string(l))
			for j := 0; j < v.Column-1 && j < len(runes); j++ {
				runes[j] = ' '
			}
			buf.WriteString(string(runes))
			continue
		default:
			buf.Write(l)
			continue
		}
		if nl {
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes()
}

// TopicsUsed lists the topics a stream config's `weir` inputs and outputs
// name (namespace "default" when none is given), sorted, without duplicates.
func TopicsUsed(cfg any) []config.TopicRef {
	seen := map[config.TopicRef]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				if k == weirInputName {
					if m, ok := e.(map[string]any); ok {
						if topic, ok := m["topic"].(string); ok && topic != "" {
							ns, _ := m["namespace"].(string)
							if ns == "" {
								ns = config.DefaultNamespace
							}
							seen[config.TopicRef{Namespace: ns, Topic: topic}] = true
						}
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	walk(cfg)
	out := make([]config.TopicRef, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Topic < out[j].Topic
	})
	return out
}
