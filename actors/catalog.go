package actors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/weirflow/weir/config"
)

// The catalog is the durable list of namespaces, topics (with their
// properties and incarnation ids) and consumer groups. It is one small JSON
// file rewritten atomically on every change, before the change is answered,
// so that a crash leaves either the old or the new catalog, never a torn one.
// Only the manager actor touches it.

const (
	catalogFile    = "catalog.json"
	catalogVersion = 1
	topicsDir      = "topics"
	groupsDir      = "groups"
)

type catalogState struct {
	Version int `json:"version"`
	// NextID numbers topic and group incarnations. It only grows, so a
	// re-created topic never reuses the data directory of a deleted one.
	NextID     uint64               `json:"next_id"`
	Namespaces map[string]*nsRecord `json:"namespaces"`
}

type nsRecord struct {
	Description string                  `json:"description"`
	Topics      map[string]*topicRecord `json:"topics"`
	Groups      map[string]*groupRecord `json:"groups"`
}

type topicRecord struct {
	ID      string            `json:"id"`
	Props   config.TopicProps `json:"props"`
	Created time.Time         `json:"created"`
	// NotifyCount and NotifiedAt persist the notification counter (body
	// bytes since creation, and its value at the last notification). They
	// are saved at each notification and at shutdown; a crash may lose the
	// bytes counted since, which only delays the next notification.
	NotifyCount int64 `json:"notify_count"`
	NotifiedAt  int64 `json:"notified_at"`
}

type groupRecord struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

type catalog struct {
	dataDir string
	state   *catalogState
}

// openCatalog loads <dataDir>/catalog.json, or starts an empty one holding
// the default namespace. A catalog that does not parse is an error: starting
// without it would orphan every topic on disk.
func openCatalog(dataDir string) (*catalog, error) {
	c := &catalog{dataDir: dataDir}
	raw, err := os.ReadFile(filepath.Join(dataDir, catalogFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		c.state = &catalogState{Version: catalogVersion, NextID: 1, Namespaces: map[string]*nsRecord{}}
	case err != nil:
		return nil, fmt.Errorf("read catalog: %w", err)
	default:
		var st catalogState
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, fmt.Errorf("catalog %s is corrupt: %w", filepath.Join(dataDir, catalogFile), err)
		}
		if st.Version != catalogVersion {
			return nil, fmt.Errorf("catalog %s has unsupported version %d", filepath.Join(dataDir, catalogFile), st.Version)
		}
		if st.Namespaces == nil {
			st.Namespaces = map[string]*nsRecord{}
		}
		c.state = &st
	}
	for _, ns := range c.state.Namespaces {
		if ns.Topics == nil {
			ns.Topics = map[string]*topicRecord{}
		}
		if ns.Groups == nil {
			ns.Groups = map[string]*groupRecord{}
		}
	}
	if _, ok := c.state.Namespaces[config.DefaultNamespace]; !ok {
		if err := c.update(func(s *catalogState) error {
			s.Namespaces[config.DefaultNamespace] = newNSRecord("")
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func newNSRecord(desc string) *nsRecord {
	return &nsRecord{Description: desc, Topics: map[string]*topicRecord{}, Groups: map[string]*groupRecord{}}
}

// update applies fn to a copy of the state and makes it durable; the
// in-memory catalog changes only when the file did, so a failed write
// leaves memory and disk agreeing.
func (c *catalog) update(fn func(s *catalogState) error) error {
	next, err := cloneState(c.state)
	if err != nil {
		return err
	}
	if err := fn(next); err != nil {
		return err
	}
	if err := c.save(next); err != nil {
		return fmt.Errorf("%w: save catalog: %v", config.ErrStorage, err)
	}
	c.state = next
	return nil
}

func cloneState(s *catalogState) (*catalogState, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var out catalogState
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	for _, ns := range out.Namespaces {
		if ns.Topics == nil {
			ns.Topics = map[string]*topicRecord{}
		}
		if ns.Groups == nil {
			ns.Groups = map[string]*groupRecord{}
		}
	}
	return &out, nil
}

// save writes temp file → fsync → rename → fsync of the directory: the
// rename is atomic, and the directory fsync makes the rename itself durable.
func (c *catalog) save(s *catalogState) error {
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(c.dataDir, catalogFile, raw)
}

func writeFileAtomic(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, name+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// newID hands out the next incarnation id (call inside update).
func (s *catalogState) newID(prefix string) string {
	id := prefix + strconv.FormatUint(s.NextID, 10)
	s.NextID++
	return id
}

func (c *catalog) namespace(name string) (*nsRecord, bool) {
	ns, ok := c.state.Namespaces[name]
	return ns, ok
}

func (c *catalog) topic(ns, name string) (*topicRecord, error) {
	n, ok := c.state.Namespaces[ns]
	if !ok {
		return nil, fmt.Errorf("%w: %s", config.ErrNamespaceNotFound, ns)
	}
	t, ok := n.Topics[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s/%s", config.ErrTopicNotFound, ns, name)
	}
	return t, nil
}

func (c *catalog) namespaceNames() []string {
	out := make([]string, 0, len(c.state.Namespaces))
	for n := range c.state.Namespaces {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *catalog) topicDir(id string) string { return filepath.Join(c.dataDir, topicsDir, id) }
func (c *catalog) groupDir(id string) string { return filepath.Join(c.dataDir, groupsDir, id) }

// orphanDirs lists topic and group directories that no catalog entry names:
// leftovers of a delete that crashed between the catalog write and the
// removal of the files. They are safe to remove.
func (c *catalog) orphanDirs() []string {
	live := map[string]bool{}
	for _, ns := range c.state.Namespaces {
		for _, t := range ns.Topics {
			live[c.topicDir(t.ID)] = true
		}
		for _, g := range ns.Groups {
			live[c.groupDir(g.ID)] = true
		}
	}
	var out []string
	for _, sub := range []string{topicsDir, groupsDir} {
		entries, err := os.ReadDir(filepath.Join(c.dataDir, sub))
		if err != nil {
			continue
		}
		for _, e := range entries {
			p := filepath.Join(c.dataDir, sub, e.Name())
			if !live[p] {
				out = append(out, p)
			}
		}
	}
	return out
}
