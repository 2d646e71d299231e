package http

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/weirflow/weir/config"
)

// weir's own admin API lives under /weir/v1. It exists for what the three
// API families lack and operators need: per-partition offsets and sizes,
// consumer groups with their lag, namespaces, and reading a partition by
// offset without joining a group. Every answer is JSON; every error is
// {"error":"<message>"} with a status from adminStatus (errors.go).

// errGroupNotFound is answered for a consumer group the namespace never had.
var errGroupNotFound = errors.New("consumer group not found")

// maxAdminBody bounds admin request bodies; they are small JSON objects.
const maxAdminBody = 1 << 20

// Fetch limits of the admin read route. They mirror the engine's own bound on
// one partition read, so one request never pins more than ~1 MiB.
const (
	adminDefaultFetchEvents = 100
	adminMaxFetchEvents     = 1000
	adminDefaultFetchBytes  = 1 << 20
	adminMaxFetchBytes      = 1 << 20
	adminMaxPartitions      = 4096
)

// AdminNamespace is a namespace as the admin API shows it.
type AdminNamespace struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// AdminPartition is one partition of a topic. LastOffset is NextOffset-1;
// the partition is empty when Events is 0 (then LastOffset < FirstOffset).
type AdminPartition struct {
	Partition     int   `json:"partition"`
	FirstOffset   int64 `json:"first_offset"`
	LastOffset    int64 `json:"last_offset"`
	NextOffset    int64 `json:"next_offset"`
	Events        int64 `json:"events"`
	SizeBytes     int64 `json:"size_bytes"`
	LastTimestamp int64 `json:"last_timestamp"`
}

// AdminTopic is a topic incarnation with its partitions.
type AdminTopic struct {
	Namespace      string    `json:"namespace"`
	Name           string    `json:"name"`
	ID             string    `json:"id"`
	Created        time.Time `json:"created"`
	PartitionCount int       `json:"partition_count"`
	// TTLMillis is how long events stay readable by time-range reads.
	TTLMillis int64 `json:"ttl_ms"`
	// Retention is TTLMillis for people: "forever" or a Go duration.
	Retention   string           `json:"retention"`
	Description *string          `json:"description,omitempty"`
	Events      int64            `json:"events"`
	SizeBytes   int64            `json:"size_bytes"`
	Partitions  []AdminPartition `json:"partitions"`
}

// AdminGroup is a consumer group: its members with their assignment, and per
// partition the owner, committed offset, end offset and lag.
type AdminGroup struct {
	Namespace  string                  `json:"namespace"`
	Name       string                  `json:"name"`
	Members    []AdminGroupMember      `json:"members"`
	Partitions []config.GroupPartition `json:"partitions"`
	// Lag is the sum of the partitions' lag.
	Lag int64 `json:"lag"`
}

// AdminGroupMember is one member of a group.
type AdminGroupMember struct {
	ID         string                  `json:"id"`
	Topics     []string                `json:"topics"`
	Assignment []config.TopicPartition `json:"assignment"`
}

// AdminEvent is one stored event. A key or value that is valid UTF-8 is
// sent as text (key, value); any other bytes as standard base64 (key_base64,
// value_base64), so the answer is always lossless.
type AdminEvent struct {
	Partition   int               `json:"partition"`
	Offset      int64             `json:"offset"`
	Timestamp   int64             `json:"timestamp"`
	Headers     map[string]string `json:"headers"`
	Key         *string           `json:"key,omitempty"`
	KeyBase64   *string           `json:"key_base64,omitempty"`
	Value       *string           `json:"value,omitempty"`
	ValueBase64 *string           `json:"value_base64,omitempty"`
}

// AdminFetch is the answer of a partition read by offset.
type AdminFetch struct {
	Partition   int          `json:"partition"`
	FirstOffset int64        `json:"first_offset"`
	NextOffset  int64        `json:"next_offset"`
	Events      []AdminEvent `json:"events"`
}

// AdminCreateTopic is the body of POST /weir/v1/namespaces/{ns}/topics.
type AdminCreateTopic struct {
	Name string `json:"name"`
	// Partitions is the partition count; 0 or absent means the server default.
	Partitions int `json:"partitions,omitempty"`
	// TTLMillis and TTL (a Go duration) are alternatives; absent means forever.
	TTLMillis   *int64  `json:"ttl_ms,omitempty"`
	TTL         string  `json:"ttl,omitempty"`
	Description *string `json:"description,omitempty"`
}

// AdminCreateNamespace is the body of POST /weir/v1/namespaces (name
// required) and of PUT /weir/v1/namespaces/{ns} (name taken from the path).
type AdminCreateNamespace struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
}

func (s *Server) newAdminHandler() http.Handler {
	r := gin.New()
	r.Use(gin.Recovery())
	r.HandleMethodNotAllowed = true
	r.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": "no route " + c.Request.URL.Path})
	})
	r.NoMethod(func(c *gin.Context) {
		c.JSON(http.StatusMethodNotAllowed, gin.H{"error": "method " + c.Request.Method + " not allowed on " + c.Request.URL.Path})
	})

	r.GET("/openapi.json", s.serveOpenAPI)

	v1 := r.Group("/weir/v1")
	v1.GET("/namespaces", s.adminListNamespaces)
	v1.POST("/namespaces", s.adminPostNamespace)
	v1.GET("/namespaces/:ns", s.adminGetNamespace)
	v1.PUT("/namespaces/:ns", s.adminPutNamespace)
	v1.DELETE("/namespaces/:ns", s.adminDeleteNamespace)

	v1.GET("/namespaces/:ns/topics", s.adminListTopics)
	v1.POST("/namespaces/:ns/topics", s.adminCreateTopic)
	v1.GET("/namespaces/:ns/topics/:topic", s.adminGetTopic)
	v1.DELETE("/namespaces/:ns/topics/:topic", s.adminDeleteTopic)
	v1.POST("/namespaces/:ns/topics/:topic/truncate", s.adminTruncateTopic)
	v1.GET("/namespaces/:ns/topics/:topic/partitions/:partition/events", s.adminFetch)

	v1.GET("/namespaces/:ns/groups", s.adminListGroups)
	v1.GET("/namespaces/:ns/groups/:group", s.adminGetGroup)
	return r
}

// adminFail answers err as {"error": ...} with the status adminStatus picks.
func (s *Server) adminFail(c *gin.Context, err error) {
	status := adminStatus(err)
	if status >= 500 {
		s.log.Error().Err(err).Str("path", c.Request.URL.Path).Str("method", c.Request.Method).Msg("admin request failed")
	}
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "1")
	}
	c.AbortWithStatusJSON(status, gin.H{"error": err.Error()})
}

// adminEngine answers 503 when no engine is configured, so a server built for
// a test of another family never panics here.
func (s *Server) adminEngine(c *gin.Context) (Engine, bool) {
	if s.opts.Engine == nil {
		s.adminFail(c, config.ErrUnavailable)
		return nil, false
	}
	return s.opts.Engine, true
}

// bindAdminJSON decodes a small JSON object strictly: unknown fields and
// trailing data are errors. An empty body leaves v as it is when optional.
func bindAdminJSON(c *gin.Context, v any, optional bool) error {
	body, err := readBodyLimit(c.Request, maxAdminBody)
	if errors.Is(err, config.ErrTooLarge) {
		return err
	}
	if err != nil {
		return err // already ErrInvalidArgument (bodyReadError)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return fmt.Errorf("%w: a JSON object body is required", config.ErrInvalidArgument)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: invalid JSON body: %v", config.ErrInvalidArgument, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: invalid JSON body: data after the object", config.ErrInvalidArgument)
	}
	return nil
}

func (s *Server) adminListNamespaces(c *gin.Context) {
	eng, ok := s.adminEngine(c)
	if !ok {
		return
	}
	ctx, cancel := s.requestContext(c)
	defer cancel()
	list, err := eng.ListNamespaces(ctx)
	if err != nil {
		s.adminFail(c, err)
		return
	}
	out := make([]AdminNamespace, 0, len(list))
	for _, n := range list {
		out = append(out, AdminNamespace(n))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) adminGetNamespace(c *gin.Context) {
	eng, ok := s.adminEngine(c)
	if !ok {
		return
	}
	ns := c.Param("ns")
	if err := config.ValidateNamespace(ns); err != nil {
		s.adminFail(c, err)
		return
	}
	ctx, cancel := s.requestContext(c)
	defer cancel()
	info, err := eng.GetNamespace(ctx, ns)
	if err != nil {
		s.adminFail(c, err)
		return
	}
	c.JSON(http.StatusOK, AdminNamespace(info))
}

// adminPostNamespace creates a namespace named in the body; an existing one
// is a conflict (409), unlike the idempotent PUT.
func (s *Server) adminPostNamespace(c *gin.Context) {
	var req AdminCreateNamespace
	if err := bindAdminJSON(c, &req, false); err != nil {
		s.adminFail(c, err)
		return
	}
	s.adminCreateNamespace(c, req.Name, req.Description, false)
}

// adminPutNamespace creates the namespace in the path: 201 when new, 200
// when it already existed (its description is then left unchanged).
func (s *Server) adminPutNamespace(c *gin.Context) {
	var req AdminCreateNamespace
	if err := bindAdminJSON(c, &req, true); err != nil {
		s.adminFail(c, err)
		return
	}
	if req.Name != "" && req.Name != c.Param("ns") {
		s.adminFail(c, fmt.Errorf("%w: body name %q differs from the path's %q", config.ErrInvalidArgument, req.Name, c.Param("ns")))
		return
	}
	s.adminCreateNamespace(c, c.Param("ns"), req.Description, true)
}

func (s *Server) adminCreateNamespace(c *gin.Context, ns, description string, idempotent bool) {
	eng, ok := s.adminEngine(c)
	if !ok {
		return
	}
	if err := config.ValidateNamespace(ns); err != nil {
		s.adminFail(c, err)
		return
	}
	ctx, cancel := s.requestContext(c)
	defer cancel()
	created, err := eng.CreateNamespace(ctx, ns, description)
	if errors.Is(err, config.ErrNamespaceExists) {
		created, err = false, nil
	}
	if err != nil {
		s.adminFail(c, err)
		return
	}
	if !created && !idempotent {
		s.adminFail(c, fmt.Errorf("%w: %q", config.ErrNamespaceExists, ns))
		return
	}
	info, err := eng.GetNamespace(ctx, ns)
	if err != nil {
		s.adminFail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, AdminNamespace(info))
}

func (s *Server) adminDeleteNamespace(c *gin.Context) {
	eng, ok := s.adminEngine(c)
	if !ok {
		return
	}
	ns := c.Param("ns")
	if err := config.ValidateNamespace(ns); err != nil {
		s.adminFail(c, err)
		return
	}
	if ns == config.DefaultNamespace {
		s.adminFail(c, fmt.Errorf("%w: %q always exists", config.ErrNamespaceProtected, ns))
		return
	}
	ctx, cancel := s.requestContext(c)
	defer cancel()
	if err := eng.DeleteNamespace(ctx, ns); err != nil {
		s.adminFail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// nsTopic validates the {ns} and {topic} path segments before anything can
// turn them into a file name.
func (s *Server) nsTopic(c *gin.Context) (string, string, bool) {
	ns, topic := c.Param("ns"), c.Param("topic")
	if err := config.ValidateNamespace(ns); err != nil {
		s.adminFail(c, err)
		return "", "", false
	}
	if err := config.ValidateTopic(topic); err != nil {
		s.adminFail(c, err)
		return "", "", false
	}
	return ns, topic, true
}

func (s *Server) adminListTopics(c *gin.Context) {
	eng, ok := s.adminEngine(c)
	if !ok {
		return
	}
	ns := c.Param("ns")
	if err := config.ValidateNamespace(ns); err != nil {
		s.adminFail(c, err)
		return
	}
	ctx, cancel := s.requestContext(c)
	defer cancel()
	list, err := eng.ListTopics(ctx, ns)
	if err != nil {
		s.adminFail(c, err)
		return
	}
	out := make([]AdminTopic, 0, len(list))
	for _, t := range list {
		if len(t.Partitions) == 0 {
			// A listing may leave out partition details; ask the topic
			// itself. A topic deleted in between is simply not listed.
			full, err := eng.GetTopic(ctx, ns, t.Name)
			if errors.Is(err, config.ErrTopicNotFound) {
				continue
			}
			if err != nil {
				s.adminFail(c, err)
				return
			}
			t = full
		}
		out = append(out, adminTopic(t))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) adminCreateTopic(c *gin.Context) {
	eng, ok := s.adminEngine(c)
	if !ok {
		return
	}
	ns := c.Param("ns")
	if err := config.ValidateNamespace(ns); err != nil {
		s.adminFail(c, err)
		return
	}
	var req AdminCreateTopic
	if err := bindAdminJSON(c, &req, false); err != nil {
		s.adminFail(c, err)
		return
	}
	if err := config.ValidateTopic(req.Name); err != nil {
		s.adminFail(c, err)
		return
	}
	props, err := req.props()
	if err != nil {
		s.adminFail(c, err)
		return
	}
	ctx, cancel := s.requestContext(c)
	defer cancel()
	info, created, err := eng.CreateTopic(ctx, ns, req.Name, props)
	if err != nil {
		s.adminFail(c, err)
		return
	}
	if !created {
		s.adminFail(c, fmt.Errorf("%w: %q in namespace %q", config.ErrTopicExists, req.Name, ns))
		return
	}
	if len(info.Partitions) == 0 {
		if full, err := eng.GetTopic(ctx, ns, req.Name); err == nil {
			info = full
		}
	}
	c.JSON(http.StatusCreated, adminTopic(info))
}

// props turns a create request into topic properties over the defaults.
func (r AdminCreateTopic) props() (config.TopicProps, error) {
	p := config.DefaultTopicProps()
	if r.Partitions < 0 || r.Partitions > adminMaxPartitions {
		return p, fmt.Errorf("%w: partitions must be 1-%d (0 or absent: the server default)", config.ErrInvalidArgument, adminMaxPartitions)
	}
	p.Partitions = r.Partitions
	switch {
	case r.TTLMillis != nil && r.TTL != "":
		return p, fmt.Errorf("%w: give ttl or ttl_ms, not both", config.ErrInvalidArgument)
	case r.TTLMillis != nil:
		if *r.TTLMillis < 0 {
			return p, fmt.Errorf("%w: ttl_ms must not be negative", config.ErrInvalidArgument)
		}
		p.TTLMillis = *r.TTLMillis
	case r.TTL != "":
		d, err := time.ParseDuration(r.TTL)
		if err != nil || d < 0 {
			return p, fmt.Errorf("%w: ttl %q is not a non-negative Go duration (e.g. 72h)", config.ErrInvalidArgument, r.TTL)
		}
		p.TTLMillis = d.Milliseconds()
	}
	p.Description = r.Description
	return p, nil
}

func (s *Server) adminGetTopic(c *gin.Context) {
	eng, ok := s.adminEngine(c)
	if !ok {
		return
	}
	ns, topic, ok := s.nsTopic(c)
	if !ok {
		return
	}
	ctx, cancel := s.requestContext(c)
	defer cancel()
	info, err := eng.GetTopic(ctx, ns, topic)
	if err != nil {
		s.adminFail(c, err)
		return
	}
	c.JSON(http.StatusOK, adminTopic(info))
}

func (s *Server) adminDeleteTopic(c *gin.Context) {
	eng, ok := s.adminEngine(c)
	if !ok {
		return
	}
	ns, topic, ok := s.nsTopic(c)
	if !ok {
		return
	}
	ctx, cancel := s.requestContext(c)
	defer cancel()
	if err := eng.DeleteTopic(ctx, ns, topic); err != nil {
		s.adminFail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) adminTruncateTopic(c *gin.Context) {
	eng, ok := s.adminEngine(c)
	if !ok {
		return
	}
	ns, topic, ok := s.nsTopic(c)
	if !ok {
		return
	}
	ctx, cancel := s.requestContext(c)
	defer cancel()
	if err := eng.TruncateTopic(ctx, ns, topic); err != nil {
		s.adminFail(c, err)
		return
	}
	info, err := eng.GetTopic(ctx, ns, topic)
	if err != nil {
		s.adminFail(c, err)
		return
	}
	c.JSON(http.StatusOK, adminTopic(info))
}

// adminFetch reads one partition by offset, without a consumer group:
// `weir consume` without --group uses it. offset defaults to the oldest
// retained event; an offset below it reads from it.
func (s *Server) adminFetch(c *gin.Context) {
	eng, ok := s.adminEngine(c)
	if !ok {
		return
	}
	ns, topic, ok := s.nsTopic(c)
	if !ok {
		return
	}
	partition, err := strconv.Atoi(c.Param("partition"))
	if err != nil || partition < 0 {
		s.adminFail(c, fmt.Errorf("%w: partition %q is not a non-negative integer", config.ErrInvalidArgument, c.Param("partition")))
		return
	}
	maxEvents, err := queryInt(c, "max_events", adminDefaultFetchEvents, 1, adminMaxFetchEvents)
	if err != nil {
		s.adminFail(c, err)
		return
	}
	maxBytes, err := queryInt(c, "max_bytes", adminDefaultFetchBytes, 1, adminMaxFetchBytes)
	if err != nil {
		s.adminFail(c, err)
		return
	}
	offset := int64(-1)
	if v, present := c.GetQuery("offset"); present {
		offset, err = strconv.ParseInt(v, 10, 64)
		if err != nil || offset < 0 {
			s.adminFail(c, fmt.Errorf("%w: offset %q is not a non-negative integer", config.ErrInvalidArgument, v))
			return
		}
	}
	ctx, cancel := s.requestContext(c)
	defer cancel()
	if offset < 0 {
		info, err := eng.GetTopic(ctx, ns, topic)
		if err != nil {
			s.adminFail(c, err)
			return
		}
		offset = 0
		for _, p := range info.Partitions {
			if p.Partition == partition {
				offset = p.FirstOffset
			}
		}
	}
	res, err := eng.Fetch(ctx, ns, topic, partition, offset, maxEvents, maxBytes)
	if err != nil {
		s.adminFail(c, err)
		return
	}
	out := AdminFetch{Partition: partition, FirstOffset: res.FirstOffset, NextOffset: res.NextOffset, Events: make([]AdminEvent, 0, len(res.Events))}
	for _, e := range res.Events {
		out.Events = append(out.Events, adminEvent(e))
	}
	c.JSON(http.StatusOK, out)
}

func queryInt(c *gin.Context, name string, def, lo, hi int) (int, error) {
	v, present := c.GetQuery(name)
	if !present {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%w: %s %q must be an integer in %d-%d", config.ErrInvalidArgument, name, v, lo, hi)
	}
	return n, nil
}

func (s *Server) adminListGroups(c *gin.Context) {
	eng, ok := s.adminEngine(c)
	if !ok {
		return
	}
	ns := c.Param("ns")
	if err := config.ValidateNamespace(ns); err != nil {
		s.adminFail(c, err)
		return
	}
	ctx, cancel := s.requestContext(c)
	defer cancel()
	list, err := eng.ListGroups(ctx, ns)
	if err != nil {
		s.adminFail(c, err)
		return
	}
	out := make([]AdminGroup, 0, len(list))
	for _, g := range list {
		out = append(out, adminGroup(g))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) adminGetGroup(c *gin.Context) {
	eng, ok := s.adminEngine(c)
	if !ok {
		return
	}
	ns, group := c.Param("ns"), c.Param("group")
	if err := config.ValidateNamespace(ns); err != nil {
		s.adminFail(c, err)
		return
	}
	if err := config.ValidateGroup(group); err != nil {
		s.adminFail(c, err)
		return
	}
	ctx, cancel := s.requestContext(c)
	defer cancel()
	g, err := eng.DescribeGroup(ctx, ns, group)
	if err != nil {
		s.adminFail(c, err)
		return
	}
	if len(g.Members) == 0 && len(g.Partitions) == 0 {
		// The engine describes any name; only a group in the catalog
		// (one that ever had a member) is found.
		known, err := eng.ListGroups(ctx, ns)
		if err != nil {
			s.adminFail(c, err)
			return
		}
		if !slices.ContainsFunc(known, func(k config.GroupInfo) bool { return k.Name == group }) {
			s.adminFail(c, fmt.Errorf("%w: %s/%s", errGroupNotFound, ns, group))
			return
		}
	}
	c.JSON(http.StatusOK, adminGroup(g))
}

func adminTopic(t config.TopicInfo) AdminTopic {
	out := AdminTopic{
		Namespace:      t.Namespace,
		Name:           t.Name,
		ID:             t.ID,
		Created:        t.Created,
		PartitionCount: t.Props.Partitions,
		TTLMillis:      t.Props.TTLMillis,
		Retention:      retentionText(t.Props.TTLMillis),
		Description:    t.Props.Description,
		Partitions:     make([]AdminPartition, 0, len(t.Partitions)),
	}
	for _, p := range t.Partitions {
		n := max(p.NextOffset-p.FirstOffset, 0)
		out.Partitions = append(out.Partitions, AdminPartition{
			Partition:     p.Partition,
			FirstOffset:   p.FirstOffset,
			LastOffset:    p.NextOffset - 1,
			NextOffset:    p.NextOffset,
			Events:        n,
			SizeBytes:     p.SizeBytes,
			LastTimestamp: p.LastTimestamp,
		})
		out.Events += n
		out.SizeBytes += p.SizeBytes
	}
	if out.PartitionCount == 0 {
		out.PartitionCount = len(t.Partitions)
	}
	return out
}

// retentionText shows a TTL for people: "forever" for CDAP's Long.MAX_VALUE
// default, otherwise a Go duration.
func retentionText(ms int64) string {
	if ms >= config.TTLForever/int64(time.Millisecond) {
		return "forever"
	}
	return (time.Duration(ms) * time.Millisecond).String()
}

func adminGroup(g config.GroupInfo) AdminGroup {
	out := AdminGroup{
		Namespace:  g.Namespace,
		Name:       g.Name,
		Members:    make([]AdminGroupMember, 0, len(g.Members)),
		Partitions: make([]config.GroupPartition, 0, len(g.Partitions)),
	}
	for _, m := range g.Members {
		am := AdminGroupMember{ID: m.ID, Topics: m.Topics, Assignment: m.Assignment}
		if am.Topics == nil {
			am.Topics = []string{}
		}
		if am.Assignment == nil {
			am.Assignment = []config.TopicPartition{}
		}
		out.Members = append(out.Members, am)
	}
	for _, p := range g.Partitions {
		out.Partitions = append(out.Partitions, p)
		out.Lag += p.Lag
	}
	return out
}

func adminEvent(e config.Event) AdminEvent {
	out := AdminEvent{Partition: e.Partition, Offset: e.Offset, Timestamp: e.Timestamp, Headers: e.Headers}
	if out.Headers == nil {
		out.Headers = map[string]string{}
	}
	if len(e.Key) > 0 {
		out.Key, out.KeyBase64 = textOrBase64(e.Key)
	}
	out.Value, out.ValueBase64 = textOrBase64(e.Body)
	return out
}

func textOrBase64(b []byte) (*string, *string) {
	if utf8.Valid(b) {
		s := string(b)
		return &s, nil
	}
	s := base64.StdEncoding.EncodeToString(b)
	return nil, &s
}
