package pipelines

import (
	"context"
	"strings"
	"sync"

	"github.com/weirflow/weir/config"
)

// fakeTopics is an in-memory Topics with PolarStreams-like group semantics:
// one group member owns every partition, Poll hands out events past the
// member's delivered position, LeaveGroup rewinds it to the commit.
type fakeTopics struct {
	mu         sync.Mutex
	namespaces map[string]bool
	topics     map[string][][]config.Event // ns/topic → partitions
	parts      int
	produced   []config.ProduceRequest
	rr         int
	delivered  map[string]map[int]int64 // member → partition → next
	committed  map[string]map[int]int64 // group → partition → offset
	memberOf   map[string]string        // member → group
	topicOf    map[string]string        // member → ns/topic
	commits    int
}

func newFakeTopics() *fakeTopics {
	return &fakeTopics{namespaces: map[string]bool{"default": true}, topics: map[string][][]config.Event{}, parts: 2,
		delivered: map[string]map[int]int64{}, committed: map[string]map[int]int64{}, memberOf: map[string]string{}, topicOf: map[string]string{}}
}

func key(ns, t string) string { return ns + "/" + t }

func (f *fakeTopics) GetNamespace(_ context.Context, name string) (config.NamespaceInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.namespaces[name] {
		return config.NamespaceInfo{}, config.ErrNamespaceNotFound
	}
	return config.NamespaceInfo{Name: name}, nil
}

func (f *fakeTopics) GetTopic(_ context.Context, ns, topic string) (config.TopicInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ps, ok := f.topics[key(ns, topic)]
	if !ok {
		return config.TopicInfo{}, config.ErrTopicNotFound
	}
	info := config.TopicInfo{Namespace: ns, Name: topic, Props: config.TopicProps{Partitions: len(ps)}}
	for i, p := range ps {
		info.Partitions = append(info.Partitions, config.PartitionInfo{Partition: i, NextOffset: int64(len(p))})
	}
	return info, nil
}

func (f *fakeTopics) create(ns, topic string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.topics[key(ns, topic)]; !ok {
		f.topics[key(ns, topic)] = make([][]config.Event, f.parts)
	}
}

func (f *fakeTopics) Produce(_ context.Context, req config.ProduceRequest) (config.ProduceResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.namespaces[req.Namespace] {
		return config.ProduceResult{}, config.ErrNamespaceNotFound
	}
	k := key(req.Namespace, req.Topic)
	ps, ok := f.topics[k]
	if !ok {
		if !req.CreateTopic {
			return config.ProduceResult{}, config.ErrTopicNotFound
		}
		ps = make([][]config.Event, f.parts)
	}
	p := f.rr % len(ps)
	f.rr++
	if len(req.Key) > 0 {
		p = config.PartitionForKey(req.Key, len(ps))
	}
	first := int64(len(ps[p]))
	for i, m := range req.Messages {
		ps[p] = append(ps[p], config.Event{Partition: p, Offset: first + int64(i), Timestamp: 1_700_000_000_000_000, Headers: m.Headers, Key: req.Key, Body: m.Body})
	}
	f.topics[k] = ps
	f.produced = append(f.produced, req)
	return config.ProduceResult{Partition: p, FirstOffset: first, Count: len(req.Messages)}, nil
}

func (f *fakeTopics) Fetch(_ context.Context, ns, topic string, partition int, offset int64, maxEvents, _ int) (config.FetchResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ps, ok := f.topics[key(ns, topic)]
	if !ok {
		return config.FetchResult{}, config.ErrTopicNotFound
	}
	p := ps[partition]
	end := offset + int64(maxEvents)
	if end > int64(len(p)) {
		end = int64(len(p))
	}
	res := config.FetchResult{NextOffset: int64(len(p))}
	if offset < end {
		res.Events = append(res.Events, p[offset:end]...)
	}
	return res, nil
}

func (f *fakeTopics) JoinGroup(_ context.Context, req config.JoinRequest) (config.JoinResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := key(req.Namespace, req.Topics[0])
	ps, ok := f.topics[k]
	if !ok {
		return config.JoinResult{}, config.ErrTopicNotFound
	}
	f.memberOf[req.Member] = req.Group
	f.topicOf[req.Member] = k
	if f.committed[req.Group] == nil {
		f.committed[req.Group] = map[int]int64{}
		for i, p := range ps {
			if req.StartFrom == config.StartLatest {
				f.committed[req.Group][i] = int64(len(p))
			}
		}
	}
	f.delivered[req.Member] = map[int]int64{}
	for i, off := range f.committed[req.Group] {
		f.delivered[req.Member][i] = off
	}
	return config.JoinResult{}, nil
}

func (f *fakeTopics) Poll(ctx context.Context, req config.PollRequest) (config.PollResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.topicOf[req.Member]
	if !ok {
		return config.PollResult{}, config.ErrNotMember
	}
	ps := f.topics[k]
	res := config.PollResult{Assigned: len(ps)}
	for i, p := range ps {
		from := f.delivered[req.Member][i]
		to := from + int64(req.MaxEventsPerPartition)
		if to > int64(len(p)) {
			to = int64(len(p))
		}
		if from < to {
			res.Chunks = append(res.Chunks, config.Chunk{Topic: strings.SplitN(k, "/", 2)[1], Partition: i, StartOffset: from, Events: append([]config.Event(nil), p[from:to]...)})
			f.delivered[req.Member][i] = to
		}
	}
	return res, nil
}

func (f *fakeTopics) Commit(_ context.Context, ns, member string, offsets []config.PartitionOffset) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.memberOf[member]
	if !ok {
		return config.ErrNotMember
	}
	for _, o := range offsets {
		f.committed[g][o.Partition] = o.Offset
	}
	f.commits++
	return nil
}

func (f *fakeTopics) LeaveGroup(_ context.Context, ns, member string, commit bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.memberOf[member]; !ok {
		return config.ErrNotMember
	}
	delete(f.memberOf, member)
	delete(f.topicOf, member)
	delete(f.delivered, member)
	return nil
}

func (f *fakeTopics) committedOf(group string) map[int]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int]int64{}
	for k, v := range f.committed[group] {
		out[k] = v
	}
	return out
}
