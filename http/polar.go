package http

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/weirflow/weir/config"
)

// PolarStreams REST API (spec/polarstreams.md): discovery, producer and the
// stateless consumer, on weir's topics in namespace "default" and its
// consumer-group actors. Bodies, content types and check orders follow the
// spec byte for byte; the deliberate differences from upstream (section 6)
// are noted where they happen.

// polarFamily says which routes one gin engine serves: the main listener
// serves all of them, each dedicated listener only its own plus GET /status.
type polarFamily int

const (
	polarMain polarFamily = iota
	polarDiscovery
	polarProducer
	polarConsumer
)

// Content types and fixed bodies of section 0.
const (
	polarHTML  = "text/html; charset=utf-8"
	polarPlain = "text/plain; charset=utf-8"
	polarJSON  = "application/json"

	polarUnavailable     = "Broker is unavailable to handle producer/consumer requests"
	polarInvalidTopic    = "Invalid topic"
	polarNoEvents        = "No events in request body"
	polarBusy            = "Producer request could not be handled at the moment"
	polarInternal        = "Internal server error"
	polarReadError       = "Unexpected error while reading"
	polarEmptyIDOrTopics = "Consumer id and topics can not be empty"
	polarBadPolicy       = "Invalid offset reset policy value"
	polarBadGroup        = "Invalid group"
	polarConflict        = "Consumer already registered with different parameters"
	polarNotRegistered   = "Consumer not registered"
	polarBadWait         = "Invalid wait value"
	polarNotAcceptable   = "Only application/json is supported"
	polarGetMessages     = "Producer server doesn't allow getting topic messages"
)

// Poll limits (spec §4.2) and the longest ?wait= (6i).
const (
	polarMaxEventsPerPartition = 1000
	polarMaxBytesPerPartition  = 1 << 20
	polarMaxBytesPerPoll       = 2 << 20
	polarMaxWait               = 30 * time.Second
)

// newPolarHandler serves every PolarStreams route on the main listener.
func (s *Server) newPolarHandler() http.Handler {
	return s.newPolarRouter(polarMain)
}

// newPolarRouter builds the gin engine of one PolarStreams listener.
func (s *Server) newPolarRouter(family polarFamily) *gin.Engine {
	r := gin.New()
	// Unknown paths are 404 exactly; no redirects to a "fixed" path.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	// gin then answers a known path with the wrong method through NoMethod,
	// with Allow already set to the path's registered methods.
	r.HandleMethodNotAllowed = true
	// The router matches the decoded path (UseRawPath stays off): a topic
	// written as a%2Fb becomes two segments and matches no route (404), as
	// section 0 requires, while a%20b reaches the handler and fails the
	// name check (400).
	r.UseRawPath = false
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, rec any) {
		s.log.Error().Interface("panic", rec).Str("path", c.Request.URL.Path).Msg("polarstreams handler panicked")
		polarText(c, http.StatusInternalServerError, polarInternal)
		c.Abort()
	}))
	r.NoRoute(func(c *gin.Context) {
		polarText(c, http.StatusNotFound, "404 page not found")
	})
	r.NoMethod(func(c *gin.Context) {
		// GET on the messages route has upstream's own 405 body.
		if c.Request.Method == http.MethodGet && isMessagesPath(c.Request.URL.Path) && family != polarConsumer && family != polarDiscovery {
			polarText(c, http.StatusMethodNotAllowed, polarGetMessages)
			return
		}
		polarText(c, http.StatusMethodNotAllowed, "Method Not Allowed")
	})

	avail := s.polarAvailable
	r.GET("/status", avail, s.polarStatus(family))
	if family == polarMain || family == polarDiscovery {
		r.GET("/v1/brokers", avail, s.polarBrokers)
	}
	if family == polarMain || family == polarProducer {
		r.POST("/v1/topic/:topic/messages", avail, s.polarProduce)
	}
	if family == polarMain || family == polarConsumer {
		r.PUT("/v1/consumer/register", avail, s.polarRegister)
		r.POST("/v1/consumer/register", avail, s.polarRegister)
		r.POST("/v1/consumer/poll", avail, s.polarPoll)
		r.POST("/v1/consumer/commit", avail, s.polarCommit)
		r.POST("/v1/consumer/goodbye", avail, s.polarGoodbye)
	}
	return r
}

// isMessagesPath reports whether p has the shape /v1/topic/{topic}/messages
// (topic possibly empty).
func isMessagesPath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/v1/topic/")
	if !ok {
		return false
	}
	topic, ok := strings.CutSuffix(rest, "/messages")
	return ok && !strings.Contains(topic, "/")
}

// polarText writes a text answer: 200s are text/html (upstream's type, kept
// for byte compatibility), errors text/plain; never a trailing newline.
func polarText(c *gin.Context, status int, body string) {
	ct := polarPlain
	if status == http.StatusOK {
		ct = polarHTML
	}
	c.Data(status, ct, []byte(body))
}

// polarEmpty writes the 204 of poll and commit.
func polarEmpty(c *gin.Context, retryAfter string) {
	c.Header("Cache-Control", "no-store")
	c.Header("Retry-After", retryAfter)
	c.Status(http.StatusNoContent)
}

// polarAvailable answers 503 on every route while the engine is starting or
// draining, before any handler looks at the request.
func (s *Server) polarAvailable(c *gin.Context) {
	if s.opts.Engine == nil || !s.opts.Engine.Ready() {
		c.Header("Retry-After", "1")
		polarText(c, http.StatusServiceUnavailable, polarUnavailable)
		c.Abort()
	}
}

// polarStatus answers GET /status with the listener's section 1 line.
func (s *Server) polarStatus(family polarFamily) gin.HandlerFunc {
	return func(c *gin.Context) {
		var line string
		switch family {
		case polarDiscovery:
			line = "Client discovery server listening on " + strconv.Itoa(s.dedicatedPort(polarDiscovery))
		case polarProducer:
			line = "Producer server listening on " + strconv.Itoa(s.dedicatedPort(polarProducer))
		case polarConsumer:
			line = "Consumer server listening on " + strconv.Itoa(s.dedicatedPort(polarConsumer))
		default:
			line = "weir listening on " + strconv.Itoa(s.mainPort)
		}
		c.Data(http.StatusOK, polarPlain, []byte(line+"\n"))
	}
}

// polarBrokers answers GET /v1/brokers: weir is one broker, named by its
// advertised host, with the ports clients must use (the bound ones).
func (s *Server) polarBrokers(c *gin.Context) {
	producer, consumer := s.mainPort, s.mainPort
	if p := s.dedicatedPort(polarProducer); p != 0 {
		producer = p
	}
	if p := s.dedicatedPort(polarConsumer); p != 0 {
		consumer = p
	}
	b := make([]byte, 0, 128)
	b = append(b, `{"length":1,"names":[`...)
	b = appendJSONString(b, []byte(s.advertisedHost()))
	b = append(b, `],"producerPort":`...)
	b = strconv.AppendInt(b, int64(producer), 10)
	b = append(b, `,"producerBinaryPort":0,"consumerPort":`...)
	b = strconv.AppendInt(b, int64(consumer), 10)
	b = append(b, "}\n"...)
	c.Data(http.StatusOK, polarJSON, b)
}

// advertisedHost is polarstreams.advertised_host, else the main listener's
// host, else (wildcard or empty host) the OS host name.
func (s *Server) advertisedHost() string {
	if h := s.opts.Config.PolarStreams.AdvertisedHost; h != "" {
		return h
	}
	host, _, err := net.SplitHostPort(s.opts.Config.Server.Addr)
	if err != nil {
		host = ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if name, err := os.Hostname(); err == nil && name != "" {
			return name
		}
		return "localhost"
	}
	return host
}

// polarQuery parses the query once. Names are case-sensitive; a repeated
// parameter other than topic uses its first value (url.Values.Get).
func polarQuery(c *gin.Context) url.Values {
	return c.Request.URL.Query()
}

// consumerID reads consumerId, or the deprecated consumer_id when consumerId
// is absent.
func consumerID(q url.Values) string {
	if v, ok := q["consumerId"]; ok {
		return v[0]
	}
	return q.Get("consumer_id")
}

// bodyPool recycles poll answer buffers; an answer is written in full
// before its buffer goes back.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// polarProduce answers POST /v1/topic/{topic}/messages. Checks run in the
// spec's order: topic, size/emptiness, NDJSON splitting, then the engine
// (capacity). 200 only after the engine reports the events durable (6d).
func (s *Server) polarProduce(c *gin.Context) {
	topic := c.Param("topic")
	if config.ValidateTopic(topic) != nil {
		polarText(c, http.StatusBadRequest, polarInvalidTopic)
		return
	}
	limit := int64(s.opts.Config.PolarStreams.MaxMessageSize)
	if limit <= 0 {
		limit = int64(config.Default().PolarStreams.MaxMessageSize)
	}
	body, ok, unread := readLimitedBody(c.Request, limit)
	if !ok {
		if unread {
			// The rest of an oversized body is never read; closing the
			// connection keeps it from being parsed as the next request.
			// An empty body leaves the connection clean for keep-alive.
			c.Header("Connection", "close")
		}
		polarText(c, http.StatusBadRequest, polarSizeText(limit))
		return
	}
	var msgs []config.Message
	if isNDJSON(c.GetHeader("Content-Type")) {
		lines := splitNDJSON(body)
		if len(lines) == 0 {
			polarText(c, http.StatusBadRequest, polarNoEvents)
			return
		}
		msgs = make([]config.Message, len(lines))
		for i, l := range lines {
			msgs[i].Body = l
		}
	} else {
		// Any other type (application/json included) is one event; a JSON
		// array stays one event and bodies are never validated.
		msgs = []config.Message{{Body: body}}
	}
	req := config.ProduceRequest{
		Namespace:   config.DefaultNamespace,
		Topic:       topic,
		Messages:    msgs,
		CreateTopic: true,
	}
	// ?timestamp= is ignored on purpose (6h): every event gets the server's
	// append time.
	if key := polarQuery(c).Get("partitionKey"); key != "" {
		req.Key = []byte(key)
	}
	ctx, cancel := s.requestContext(c)
	defer cancel()
	if _, err := s.opts.Engine.Produce(ctx, req); err != nil {
		polarError(c, s.log, err, polarInternal)
		return
	}
	// Acknowledged: the events are in the log and nothing reads body again.
	recycleBody(body)
	polarText(c, http.StatusOK, "OK")
}

// polarSizeText is upstream's size message with the configured limit.
func polarSizeText(limit int64) string {
	return fmt.Sprintf("Content length must be defined (HTTP/1.1 chunked not supported), greater than 0 and less than %d bytes", limit)
}

// readLimitedBody reads a produce body of 1..limit bytes (inclusive). A
// Content-Length above the limit is rejected without reading; a chunked
// body is read up to limit+1 bytes. ok is false for an empty, oversized or
// truncated body; unread then says whether body bytes may be left on the
// connection (oversized or broken), so it must not be reused.
func readLimitedBody(r *http.Request, limit int64) (body []byte, ok, unread bool) {
	switch {
	case r.ContentLength == 0:
		return nil, false, false
	case r.ContentLength > limit:
		return nil, false, true
	case r.ContentLength > 0:
		body := takeBody(int(r.ContentLength))
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, false, true
		}
		return body, true, false
	}
	// Chunked (accepted by weir, 6c): read at most limit+1 to tell "exactly
	// the limit" from "over it".
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	switch {
	case err != nil || int64(len(body)) > limit:
		return nil, false, true
	case len(body) == 0:
		return nil, false, false
	}
	return body, true, false
}

// polarRegister answers PUT/POST /v1/consumer/register.
func (s *Server) polarRegister(c *gin.Context) {
	q := polarQuery(c)
	id := consumerID(q)
	topics := q["topic"]
	if id == "" || len(topics) == 0 || slices.Contains(topics, "") {
		polarText(c, http.StatusBadRequest, polarEmptyIDOrTopics)
		return
	}
	start := config.StartLatest
	if v, ok := q["onNewGroup"]; ok {
		switch v[0] {
		case "startFromLatest":
		case "startFromEarliest":
			start = config.StartEarliest
		default:
			polarText(c, http.StatusBadRequest, polarBadPolicy)
			return
		}
	}
	for _, t := range topics {
		if config.ValidateTopic(t) != nil {
			polarText(c, http.StatusBadRequest, polarInvalidTopic)
			return
		}
	}
	group := q.Get("group")
	if group == "" {
		group = "default"
	}
	if config.ValidateGroup(group) != nil {
		polarText(c, http.StatusBadRequest, polarBadGroup)
		return
	}
	// The topic list is a set: duplicates and order do not matter.
	set := slices.Clone(topics)
	slices.Sort(set)
	set = slices.Compact(set)
	ctx, cancel := s.requestContext(c)
	defer cancel()
	res, err := s.opts.Engine.JoinGroup(ctx, config.JoinRequest{
		Namespace:    config.DefaultNamespace,
		Group:        group,
		Member:       id,
		Topics:       set,
		StartFrom:    start,
		CreateTopics: true,
	})
	if err != nil {
		polarError(c, s.log, err, polarInternal)
		return
	}
	if res.AlreadyRegistered {
		polarText(c, http.StatusOK, "Already registered")
		return
	}
	polarText(c, http.StatusOK, "OK")
}

// polarPoll answers POST /v1/consumer/poll. The 400 and 406 checks come
// first and have no side effects (no auto-commit, no activity).
func (s *Server) polarPoll(c *gin.Context) {
	q := polarQuery(c)
	var wait time.Duration
	if v, ok := q["wait"]; ok {
		d, err := time.ParseDuration(v[0])
		if err != nil || d < 0 || d > polarMaxWait {
			polarText(c, http.StatusBadRequest, polarBadWait)
			return
		}
		wait = d
	}
	if acceptsOnlyBinary(c.Request.Header.Values("Accept")) {
		polarText(c, http.StatusNotAcceptable, polarNotAcceptable)
		return
	}
	id := consumerID(q)
	if id == "" {
		polarText(c, http.StatusConflict, polarNotRegistered)
		return
	}
	// A long poll may wait up to 30s; the request deadline starts after it.
	ctx, cancel := s.requestContext(c)
	if wait > 0 {
		cancel()
		ctx, cancel = context.WithTimeout(c.Request.Context(), wait+s.opts.Config.Server.RequestTimeout.Std())
	}
	defer cancel()
	res, err := s.opts.Engine.Poll(ctx, config.PollRequest{
		Namespace:             config.DefaultNamespace,
		Member:                id,
		MaxEventsPerPartition: polarMaxEventsPerPartition,
		MaxBytesPerPartition:  polarMaxBytesPerPartition,
		MaxBytes:              polarMaxBytesPerPoll,
		Wait:                  wait,
		AutoCommit:            true,
	})
	if err != nil {
		polarError(c, s.log, err, polarReadError)
		return
	}
	if res.Assigned == 0 {
		polarEmpty(c, "5")
		return
	}
	if len(res.Chunks) == 0 {
		polarEmpty(c, "1")
		return
	}
	// Built in full first, so Content-Length is always set.
	bp := bodyPool.Get().(*[]byte)
	buf := slices.Grow((*bp)[:0], pollBodySize(res.Chunks))
	buf = appendPollBody(buf, res.Chunks)
	h := c.Writer.Header()
	h.Set("Content-Type", polarJSON)
	h.Set("Content-Length", strconv.Itoa(len(buf)))
	c.Writer.WriteHeader(http.StatusOK)
	_, _ = c.Writer.Write(buf)
	if cap(buf) <= 8<<20 {
		*bp = buf[:0]
		bodyPool.Put(bp)
	}
}

// polarCommit answers POST /v1/consumer/commit: the consumer's delivered
// positions on the partitions it owns now become the group's committed
// offsets, durably, before the 204. Always 204 for a registered consumer,
// with or without partitions (upstream's 200 breaks its own client).
func (s *Server) polarCommit(c *gin.Context) {
	id := consumerID(polarQuery(c))
	if id == "" {
		polarText(c, http.StatusConflict, polarNotRegistered)
		return
	}
	ctx, cancel := s.requestContext(c)
	defer cancel()
	// No explicit offsets: the group commits what it handed this member.
	if err := s.opts.Engine.Commit(ctx, config.DefaultNamespace, id, nil); err != nil {
		polarError(c, s.log, err, polarInternal)
		return
	}
	polarEmpty(c, "1")
}

// polarGoodbye answers POST /v1/consumer/goodbye: commit (unless
// commit=false or 0), unregister, and rebalance the group at once (6f).
func (s *Server) polarGoodbye(c *gin.Context) {
	q := polarQuery(c)
	id := consumerID(q)
	if id == "" {
		polarText(c, http.StatusConflict, polarNotRegistered)
		return
	}
	commit := true
	if v, ok := q["commit"]; ok && (v[0] == "false" || v[0] == "0") {
		commit = false
	}
	ctx, cancel := s.requestContext(c)
	defer cancel()
	if err := s.opts.Engine.LeaveGroup(ctx, config.DefaultNamespace, id, commit); err != nil {
		polarError(c, s.log, err, polarInternal)
		return
	}
	polarText(c, http.StatusOK, "OK")
}
