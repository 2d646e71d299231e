package http

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/weirflow/weir/config"
)

// This file serves the CDAP Stream HTTP API v3 (spec/cdap-streams.md) on
// weir's topics: a CDAP stream {ns}/{id} is the topic {id} in namespace {ns}.
// Handlers check ids, then existence, then body and headers, in the order of
// spec §1, call the Engine, and render CDAP's exact statuses and bodies. The
// CDAP routes never create a topic (DESIGN "Who creates what").

// PipelineUsage tells the usage lookups (spec §4.9) which topics each pipeline
// names in its `weir` inputs and outputs. The streams manager implements it.
type PipelineUsage interface {
	// TopicsUsed maps pipeline id → topics it reads or writes. A TopicRef
	// with Namespace "" means the default namespace.
	TopicsUsed(ctx context.Context) (map[string][]config.TopicRef, error)
}

// cdapHandler holds what the CDAP routes share.
type cdapHandler struct {
	s        *Server
	maxEvent int64
	maxBatch int64
}

// newCDAPHandler builds the /v3 engine: its own 404 and 405 bodies, and
// CDAP's router matching (cdapTrimSlash), never a redirect.
func (s *Server) newCDAPHandler() http.Handler {
	r := gin.New()
	r.Use(gin.Recovery())
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.NoRoute(func(c *gin.Context) { cdapProblem(c, http.StatusNotFound, "Not Found") })
	r.NoMethod(func(c *gin.Context) { cdapProblem(c, http.StatusMethodNotAllowed, "Method Not Allowed") })

	cfg := s.opts.Config.CDAP
	h := &cdapHandler{s: s, maxEvent: int64(cfg.MaxEventSize), maxBatch: int64(cfg.MaxBatchSize)}
	if h.maxEvent <= 0 {
		h.maxEvent = int64(config.Default().CDAP.MaxEventSize)
	}
	if h.maxBatch <= 0 {
		h.maxBatch = int64(config.Default().CDAP.MaxBatchSize)
	}

	r.GET("/v3/namespaces", h.listNamespaces)
	r.PUT("/v3/namespaces/:ns", h.putNamespace)
	r.GET("/v3/namespaces/:ns", h.getNamespace)
	r.DELETE("/v3/namespaces/:ns", h.deleteNamespace)

	const st = "/v3/namespaces/:ns/streams"
	r.GET(st, h.listStreams)
	r.PUT(st+"/:id", h.createStream)
	r.GET(st+"/:id", h.getStream)
	r.POST(st+"/:id", h.send)
	r.DELETE(st+"/:id", h.deleteStream)
	r.PUT(st+"/:id/properties", h.putProperties)
	r.POST(st+"/:id/async", h.sendAsync)
	r.POST(st+"/:id/batch", h.batch)
	r.GET(st+"/:id/events", h.events)
	r.POST(st+"/:id/truncate", h.truncate)
	r.GET(st+"/:id/programs", h.streamPrograms)

	r.GET("/v3/namespaces/:ns/apps/:app/streams", h.pipelineStreams("application", "app"))
	r.GET("/v3/namespaces/:ns/apps/:app/:ptype/:program/streams", h.programStreams)
	r.GET("/v3/namespaces/:ns/adapters/:adapter/streams", h.pipelineStreams("adapter", "adapter"))
	r.GET("/v3/namespaces/:ns/data/datasets/:dataset/programs", h.datasetPrograms)
	return cdapTrimSlash{r}
}

// cdapTrimSlash routes a path with one trailing slash like the path without
// it, as CDAP's HTTP library does (it drops one trailing '/' before matching,
// so `GET …/streams/` lists streams). Only the routing path changes: the
// 404/405 text still quotes the request URI as sent.
type cdapTrimSlash struct{ next http.Handler }

func (t cdapTrimSlash) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; len(p) > 1 && p[len(p)-1] == '/' {
		u := *r.URL
		u.Path = p[:len(p)-1]
		if n := len(u.RawPath); n > 1 && u.RawPath[n-1] == '/' {
			u.RawPath = u.RawPath[:n-1]
		}
		r2 := *r
		r2.URL = &u
		r = &r2
	}
	t.next.ServeHTTP(w, r)
}

// cdapProblem writes CDAP's error text for unknown paths and methods. <uri>
// is the request URI as sent, query included (CDAP formats the text with the
// request's URI, not its path).
func cdapProblem(c *gin.Context, status int, reason string) {
	uri := c.Request.RequestURI
	if uri == "" {
		uri = c.Request.URL.RequestURI()
	}
	c.Data(status, cdapTextType, []byte("Problem accessing: "+uri+". Reason: "+reason))
}

// --- ids (spec §1) ---

func cdapValidID(s string, extra string) bool {
	if s == "" || len(s) > config.MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			continue
		}
		if strings.IndexByte(extra, c) < 0 {
			return false
		}
	}
	return true
}

func validStreamID(s string) bool    { return cdapValidID(s, "-") }
func validNamespaceID(s string) bool { return cdapValidID(s, "") }

func checkNamespace(ns string) *cdapErr {
	if !validNamespaceID(ns) {
		return cdapBadRequest("Invalid namespace ID: %s. Should only contain alphanumeric characters or _.", ns)
	}
	return nil
}

// streamIDs checks the namespace, then the stream id.
func streamIDs(c *gin.Context) (ns, id string, err *cdapErr) {
	ns, id = c.Param("ns"), c.Param("id")
	if err = checkNamespace(ns); err != nil {
		return
	}
	if !validStreamID(id) {
		err = cdapBadRequest("Invalid stream ID: %s. Should only contain alphanumeric characters and _ or -.", id)
	}
	return
}

func (h *cdapHandler) engine() Engine { return h.s.opts.Engine }

func (h *cdapHandler) fail(c *gin.Context, err error) { cdapError(c, h.s, err) }

// fail404 maps a not-found engine error on a stream route to the stream body.
func (h *cdapHandler) failStream(c *gin.Context, ns, id string, err error) {
	if cdapIsNotFound(err) {
		err = streamNotFound(ns, id)
	}
	h.fail(c, err)
}

func cdapJSON(c *gin.Context, body []byte) {
	c.Data(http.StatusOK, "application/json", body)
}

// cdapRetryBusy runs f until it stops answering ErrBusy or ctx ends (DESIGN "Busy
// and deadlines": CDAP writers wait for room until the request deadline).
func cdapRetryBusy(ctx context.Context, f func() error) error {
	wait := 500 * time.Microsecond
	for {
		err := f()
		if !errors.Is(err, config.ErrBusy) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		if wait < 50*time.Millisecond {
			wait *= 2
		}
	}
}

// --- namespaces (spec §3) ---

func (h *cdapHandler) putNamespace(c *gin.Context) {
	ns := c.Param("ns")
	if !validNamespaceID(ns) {
		h.fail(c, cdapBadRequest("Namespace id can contain only alphanumeric characters or '_'."))
		return
	}
	if ns == "system" || ns == "cdap" {
		h.fail(c, cdapBadRequest("Cannot create the namespace '%s'. '%s' is a reserved namespace.", ns, ns))
		return
	}
	body, err := readBodyLimit(c.Request, h.maxEvent)
	if err != nil {
		h.fail(c, err)
		return
	}
	var desc string
	if len(bytes.TrimSpace(body)) > 0 {
		v, err := parseLenientJSON(body)
		if err != nil || v.kind != jObject {
			h.fail(c, cdapBadRequest("Invalid json object provided in request body."))
			return
		}
		if d, ok := v.get("description"); ok && d.kind != jNull {
			t, err := jsonText(d)
			if err != nil {
				h.fail(c, cdapBadRequest("Invalid json object provided in request body."))
				return
			}
			desc = t
		}
	}
	ctx, cancel := h.s.requestContext(c)
	defer cancel()
	created, err := h.engine().CreateNamespace(ctx, ns, desc)
	switch {
	case errors.Is(err, config.ErrNamespaceExists):
		created = false
	case err != nil:
		h.fail(c, err)
		return
	}
	msg := "Namespace '" + ns + "' already exists."
	if created {
		msg = "Namespace '" + ns + "' created successfully."
	}
	c.Data(http.StatusOK, cdapTextType, []byte(msg))
}

func namespaceDescription(n config.NamespaceInfo) string {
	if n.Name == config.DefaultNamespace && n.Description == "" {
		return "Default Namespace"
	}
	return n.Description
}

func appendNamespaceJSON(b *bytes.Buffer, n config.NamespaceInfo) {
	b.WriteString(`{"name":`)
	cdapWriteString(b, n.Name)
	b.WriteString(`,"description":`)
	cdapWriteString(b, namespaceDescription(n))
	b.WriteByte('}')
}

func (h *cdapHandler) listNamespaces(c *gin.Context) {
	ctx, cancel := h.s.requestContext(c)
	defer cancel()
	list, err := h.engine().ListNamespaces(ctx)
	if err != nil {
		h.fail(c, err)
		return
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	var b bytes.Buffer
	b.WriteByte('[')
	for i, n := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		appendNamespaceJSON(&b, n)
	}
	b.WriteByte(']')
	cdapJSON(c, b.Bytes())
}

func (h *cdapHandler) getNamespace(c *gin.Context) {
	ns := c.Param("ns")
	if err := checkNamespace(ns); err != nil {
		h.fail(c, err)
		return
	}
	ctx, cancel := h.s.requestContext(c)
	defer cancel()
	n, err := h.engine().GetNamespace(ctx, ns)
	if err != nil {
		if errors.Is(err, config.ErrNamespaceNotFound) {
			err = namespaceNotFound(ns)
		}
		h.fail(c, err)
		return
	}
	var b bytes.Buffer
	appendNamespaceJSON(&b, n)
	cdapJSON(c, b.Bytes())
}

func (h *cdapHandler) deleteNamespace(c *gin.Context) {
	ns := c.Param("ns")
	if err := checkNamespace(ns); err != nil {
		h.fail(c, err)
		return
	}
	protected := &cdapErr{status: http.StatusForbidden, msg: "Namespace '" + ns + "' cannot be deleted."}
	if ns == config.DefaultNamespace {
		h.fail(c, protected)
		return
	}
	ctx, cancel := h.s.requestContext(c)
	defer cancel()
	err := h.engine().DeleteNamespace(ctx, ns)
	switch {
	case errors.Is(err, config.ErrNamespaceNotFound):
		h.fail(c, namespaceNotFound(ns))
	case errors.Is(err, config.ErrNamespaceProtected):
		h.fail(c, protected)
	case err != nil:
		h.fail(c, err)
	default:
		c.Status(http.StatusOK)
	}
}

// --- streams (spec §4, §5) ---

func (h *cdapHandler) listStreams(c *gin.Context) {
	ns := c.Param("ns")
	if err := checkNamespace(ns); err != nil {
		h.fail(c, err)
		return
	}
	ctx, cancel := h.s.requestContext(c)
	defer cancel()
	topics, err := h.engine().ListTopics(ctx, ns)
	if err != nil {
		if errors.Is(err, config.ErrNamespaceNotFound) {
			err = namespaceNotFound(ns)
		}
		h.fail(c, err)
		return
	}
	names := make([]string, 0, len(topics))
	for _, t := range topics {
		if validStreamID(t.Name) {
			names = append(names, t.Name)
		}
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteByte('[')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"name":`)
		cdapWriteString(&b, n)
		b.WriteByte('}')
	}
	b.WriteByte(']')
	cdapJSON(c, b.Bytes())
}

func (h *cdapHandler) createStream(c *gin.Context) {
	ns, id, cerr := streamIDs(c)
	if cerr != nil {
		h.fail(c, cerr)
		return
	}
	ctx, cancel := h.s.requestContext(c)
	defer cancel()
	if _, err := h.engine().GetNamespace(ctx, ns); err != nil {
		if errors.Is(err, config.ErrNamespaceNotFound) {
			err = namespaceNotFound(ns)
		}
		h.fail(c, err)
		return
	}
	body, err := readBodyLimit(c.Request, h.maxEvent)
	if err != nil {
		h.fail(c, err)
		return
	}
	req := &propsRequest{}
	var spec *formatSpec
	if len(body) > 0 {
		var perr *cdapErr
		if req, spec, perr = parsePropsBody(body); perr != nil {
			h.fail(c, perr)
			return
		}
	}
	props, err := applyProps(config.DefaultTopicProps(), req, spec)
	if err != nil {
		h.fail(c, err)
		return
	}
	info, created, err := h.engine().CreateTopic(ctx, ns, id, props)
	if errors.Is(err, config.ErrTopicExists) {
		info, err = h.engine().GetTopic(ctx, ns, id)
		created = false
	}
	if err != nil {
		if errors.Is(err, config.ErrNamespaceNotFound) {
			err = namespaceNotFound(ns)
		}
		h.fail(c, err)
		return
	}
	if !created {
		// An existing stream stays as it is; only the principal is checked.
		if perr := principalMismatch(id, req.principal, info.Props.Principal); perr != nil {
			h.fail(c, perr)
			return
		}
	}
	c.Status(http.StatusOK)
}

func (h *cdapHandler) getStream(c *gin.Context) {
	ns, id, cerr := streamIDs(c)
	if cerr != nil {
		h.fail(c, cerr)
		return
	}
	ctx, cancel := h.s.requestContext(c)
	defer cancel()
	info, err := h.engine().GetTopic(ctx, ns, id)
	if err != nil {
		h.failStream(c, ns, id, err)
		return
	}
	cdapJSON(c, renderProps(info.Props))
}

func (h *cdapHandler) putProperties(c *gin.Context) {
	ns, id, cerr := streamIDs(c)
	if cerr != nil {
		h.fail(c, cerr)
		return
	}
	ctx, cancel := h.s.requestContext(c)
	defer cancel()
	info, err := h.engine().GetTopic(ctx, ns, id)
	if err != nil {
		h.failStream(c, ns, id, err)
		return
	}
	body, err := readBodyLimit(c.Request, h.maxEvent)
	if err != nil {
		h.fail(c, err)
		return
	}
	req, spec, perr := parsePropsBody(body)
	if perr != nil {
		h.fail(c, perr)
		return
	}
	if perr := principalMismatch(id, req.principal, info.Props.Principal); perr != nil {
		h.fail(c, perr)
		return
	}
	props, err := applyProps(info.Props, req, spec)
	if err != nil {
		h.fail(c, err)
		return
	}
	if err := h.engine().SetTopicProps(ctx, ns, id, props); err != nil {
		h.failStream(c, ns, id, err)
		return
	}
	c.Status(http.StatusOK)
}

// existsOr answers a request whose headers or body were bad: existence is
// checked first (spec §1), so a missing stream still answers 404.
func (h *cdapHandler) existsOr(c *gin.Context, ctx context.Context, ns, id string, err error) {
	// Not the request's own context: a client that sent a broken body and
	// half-closed its connection has cancelled it already, but still reads
	// the answer, which must be the 404 or the 400, not a 503. (Without a
	// deadline the engine bounds the call by the request timeout.)
	if _, gerr := h.engine().GetTopic(context.WithoutCancel(ctx), ns, id); gerr != nil {
		h.failStream(c, ns, id, gerr)
		return
	}
	h.fail(c, err)
}

// singleEvent reads a send/async request: headers and the body, bounded.
func (h *cdapHandler) singleEvent(c *gin.Context, id string) (config.Message, error) {
	hdrs, herr := eventHeaders(c.Request.Header, id)
	if herr != nil {
		return config.Message{}, herr
	}
	body, err := readBodyLimit(c.Request, h.maxEvent)
	if err != nil {
		return config.Message{}, err
	}
	return config.Message{Headers: hdrs, Body: body}, nil
}

func (h *cdapHandler) send(c *gin.Context) {
	ns, id, cerr := streamIDs(c)
	if cerr != nil {
		h.fail(c, cerr)
		return
	}
	ctx, cancel := h.s.requestContext(c)
	defer cancel()
	msg, err := h.singleEvent(c, id)
	if err != nil {
		h.existsOr(c, ctx, ns, id, err)
		return
	}
	req := config.ProduceRequest{Namespace: ns, Topic: id, Messages: []config.Message{msg}}
	err = cdapRetryBusy(ctx, func() error {
		_, err := h.engine().Produce(ctx, req)
		return err
	})
	if err != nil {
		h.failStream(c, ns, id, err)
		return
	}
	c.Status(http.StatusOK)
}

func (h *cdapHandler) sendAsync(c *gin.Context) {
	ns, id, cerr := streamIDs(c)
	if cerr != nil {
		h.fail(c, cerr)
		return
	}
	ctx, cancel := h.s.requestContext(c)
	defer cancel()
	// Every check of a send runs before the 202: ProduceAsync checks that
	// the topic exists before it queues anything.
	msg, err := h.singleEvent(c, id)
	if err != nil {
		h.existsOr(c, ctx, ns, id, err)
		return
	}
	req := config.ProduceRequest{Namespace: ns, Topic: id, Messages: []config.Message{msg}}
	err = cdapRetryBusy(ctx, func() error { return h.engine().ProduceAsync(ctx, req) })
	if err != nil {
		h.failStream(c, ns, id, err)
		return
	}
	c.Status(http.StatusAccepted)
}

func (h *cdapHandler) batch(c *gin.Context) {
	ns, id, cerr := streamIDs(c)
	if cerr != nil {
		h.fail(c, cerr)
		return
	}
	ctx, cancel := h.s.requestContext(c)
	defer cancel()
	if _, err := h.engine().GetTopic(ctx, ns, id); err != nil {
		h.failStream(c, ns, id, err)
		return
	}
	// content.type is reserved for every batch; the collision is a header
	// error, so it answers before the Content-Type is looked at (CDAP builds
	// the event headers, content.type included, before it checks the type).
	hdrs, herr := eventHeaders(c.Request.Header, id, "content.type")
	if herr != nil {
		h.fail(c, herr)
		return
	}
	// The raw header value decides (spec §4.6): no normalisation, so
	// `Text/plain` and `avro/binary; x=y` are refused.
	var ct string
	if v := c.Request.Header["Content-Type"]; len(v) > 0 {
		ct = v[0]
	}
	var avroBody bool
	switch {
	case ct == "":
		h.fail(c, &cdapErr{status: http.StatusNotAcceptable, msg: "Unknown content type"})
		return
	case strings.HasPrefix(ct, "text/"):
	case ct == "avro/binary":
		avroBody = true
	default:
		h.fail(c, &cdapErr{status: http.StatusNotAcceptable, msg: "Unsupported content type " + ct})
		return
	}
	if avroBody {
		for _, r := range []string{"schema", "schema.hash"} {
			if _, dup := hdrs[r]; dup {
				h.fail(c, cdapBadRequest("Duplicate event header '%s'", r))
				return
			}
		}
	}
	if c.Request.ContentLength > h.maxBatch {
		h.fail(c, errCDAPTooLarge)
		return
	}
	var msgs []config.Message
	if avroBody {
		b, err := decodeAvroBatch(c.Request.Body, avroLimits{body: h.maxBatch, decoded: 4 * h.maxBatch, records: h.maxBatch})
		if err != nil {
			if errors.Is(err, errAvro) {
				err = cdapBadRequest("Failed to process uploaded avro file: %s", strings.TrimPrefix(err.Error(), errAvro.Error()+": "))
			}
			h.fail(c, err)
			return
		}
		eh := cdapWithHeaders(hdrs, "content.type", ct, "schema", b.schema, "schema.hash", b.hash)
		msgs = make([]config.Message, len(b.records))
		for i, r := range b.records {
			msgs[i] = config.Message{Headers: eh, Body: r}
		}
	} else {
		// One header map shared by every event of the batch: the engine
		// only reads it.
		eh := cdapWithHeaders(hdrs, "content.type", ct)
		hint := c.Request.ContentLength
		if hint > 0 {
			msgs = make([]config.Message, 0, hint/64+1)
		}
		err := splitTextBatch(c.Request.Body, h.maxBatch, hint, func(line []byte) {
			msgs = append(msgs, config.Message{Headers: eh, Body: line})
		})
		if err != nil {
			h.fail(c, err)
			return
		}
	}
	if len(msgs) > 0 {
		req := config.ProduceRequest{Namespace: ns, Topic: id, Messages: msgs}
		err := cdapRetryBusy(ctx, func() error {
			_, err := h.engine().Produce(ctx, req)
			return err
		})
		if err != nil {
			h.failStream(c, ns, id, err)
			return
		}
	}
	c.Status(http.StatusOK)
}

// cdapWithHeaders returns a copy of h with the given name/value pairs added.
func cdapWithHeaders(h map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(h)+len(kv)/2)
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func (h *cdapHandler) truncate(c *gin.Context) {
	ns, id, cerr := streamIDs(c)
	if cerr != nil {
		h.fail(c, cerr)
		return
	}
	ctx, cancel := h.s.requestContext(c)
	defer cancel()
	if err := h.engine().TruncateTopic(ctx, ns, id); err != nil {
		h.failStream(c, ns, id, err)
		return
	}
	c.Status(http.StatusOK)
}

func (h *cdapHandler) deleteStream(c *gin.Context) {
	ns, id, cerr := streamIDs(c)
	if cerr != nil {
		h.fail(c, cerr)
		return
	}
	ctx, cancel := h.s.requestContext(c)
	defer cancel()
	if err := h.engine().DeleteTopic(ctx, ns, id); err != nil {
		h.failStream(c, ns, id, err)
		return
	}
	c.Status(http.StatusOK)
}

// --- reading events (spec §7, §11) ---

// readPage is how many events one engine read returns at most: it bounds
// the memory of a read however large `limit` is.
const readPage = 1000

func (h *cdapHandler) events(c *gin.Context) {
	ns, id, cerr := streamIDs(c)
	if cerr != nil {
		h.fail(c, cerr)
		return
	}
	now := time.Now().UnixMilli()
	q, qerr := parseEventsQuery(func(k string) (string, bool) { return c.GetQuery(k) }, now)
	if qerr != nil {
		h.fail(c, qerr)
		return
	}
	ctx, cancel := h.s.requestContext(c)
	defer cancel()
	info, err := h.engine().GetTopic(ctx, ns, id)
	if err != nil {
		if cdapIsNotFound(err) {
			c.Status(http.StatusNotFound) // §7: the 404 body is empty
			return
		}
		h.fail(c, err)
		return
	}
	var dec *compiledFormat
	if q.records {
		spec, err := parseStoredFormat(info.Props.Format)
		if err == nil {
			dec, err = spec.compile()
		}
		if err != nil {
			h.fail(c, err)
			return
		}
	}
	from, to, ok := clampRange(q, now, info.Props.TTLMillis)
	if !ok {
		c.Status(http.StatusNoContent)
		return
	}
	started := false
	buf := make([]byte, 0, 64<<10)
	flush := func() {
		if len(buf) > 0 {
			_, _ = c.Writer.Write(buf)
			buf = buf[:0]
		}
	}
	err = h.readRange(ctx, ns, id, from, to, q.limit, func(page []config.Event) {
		for i := range page {
			if !started {
				c.Header("Content-Type", "application/json; charset=utf-8")
				c.Status(http.StatusOK)
				buf = append(buf, '[')
				started = true
			} else {
				buf = append(buf, ',')
			}
			if dec != nil {
				buf = dec.appendRecordJSON(buf, &page[i])
			} else {
				buf = appendEventJSON(buf, &page[i])
			}
			if len(buf) >= 60<<10 {
				flush()
			}
		}
	})
	if err != nil {
		if !started {
			h.failStream(c, ns, id, err)
			return
		}
		// The status is sent; cutting the array short is all that is left.
		h.s.log.Error().Err(err).Str("namespace", ns).Str("topic", id).Msg("cdap: read failed mid-answer")
		flush()
		return
	}
	if !started {
		c.Status(http.StatusNoContent)
		return
	}
	buf = append(buf, ']')
	flush()
}

// readRange pages through Engine.ReadRange. Events of one request share one
// timestamp, so a page may end inside a run of equal timestamps: the next
// page starts at that timestamp again and skips the events already handed
// out (ties come back in a fixed order: partition, then offset).
func (h *cdapHandler) readRange(ctx context.Context, ns, id string, from, to int64, limit int, emit func([]config.Event)) error {
	emitted, skip := 0, 0
	for emitted < limit {
		want := limit - emitted
		if want > readPage {
			want = readPage
		}
		n := skip + want
		evs, err := h.engine().ReadRange(ctx, ns, id, from, to, n)
		if err != nil {
			return err
		}
		if len(evs) <= skip {
			return nil
		}
		page := evs[skip:]
		if len(page) > want {
			page = page[:want]
		}
		emit(page)
		emitted += len(page)
		if len(evs) < n {
			return nil
		}
		last := page[len(page)-1].Timestamp
		if last == from {
			skip += len(page)
		} else {
			skip = 0
			for i := len(page) - 1; i >= 0 && page[i].Timestamp == last; i-- {
				skip++
			}
			from = last
		}
	}
	return nil
}

// --- usage lookups (spec §4.9) ---

var programTypes = map[string]bool{
	"flows": true, "mapreduce": true, "workflows": true, "webapp": true,
	"services": true, "spark": true, "workers": true, "custom": true,
}

func checkProgramID(kind, v string) *cdapErr {
	if !validStreamID(v) {
		return cdapBadRequest("Invalid %s ID: %s. Should only contain alphanumeric characters and _ or -.", kind, v)
	}
	return nil
}

func (h *cdapHandler) usage(ctx context.Context) (map[string][]config.TopicRef, error) {
	if h.s.opts.Usage == nil {
		return nil, nil
	}
	return h.s.opts.Usage.TopicsUsed(ctx)
}

// writeStreamRefs answers the topics of ns used by pipeline p.
func (h *cdapHandler) writeStreamRefs(c *gin.Context, ns, p string) {
	ctx, cancel := h.s.requestContext(c)
	defer cancel()
	var topics []string
	if p != "" {
		used, err := h.usage(ctx)
		if err != nil {
			h.fail(c, err)
			return
		}
		seen := map[string]bool{}
		for _, ref := range used[p] {
			rns := ref.Namespace
			if rns == "" {
				rns = config.DefaultNamespace
			}
			if rns == ns && !seen[ref.Topic] {
				seen[ref.Topic] = true
				topics = append(topics, ref.Topic)
			}
		}
		sort.Strings(topics)
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, t := range topics {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"namespace":{"id":`)
		cdapWriteString(&b, ns)
		b.WriteString(`},"streamName":`)
		cdapWriteString(&b, t)
		b.WriteByte('}')
	}
	b.WriteByte(']')
	cdapJSON(c, b.Bytes())
}

// writeProgramRefs answers the pipelines using topic t of ns.
func (h *cdapHandler) writeProgramRefs(c *gin.Context, ns, t string) {
	ctx, cancel := h.s.requestContext(c)
	defer cancel()
	used, err := h.usage(ctx)
	if err != nil {
		h.fail(c, err)
		return
	}
	var ids []string
	for p, refs := range used {
		for _, ref := range refs {
			rns := ref.Namespace
			if rns == "" {
				rns = config.DefaultNamespace
			}
			if rns == ns && ref.Topic == t {
				ids = append(ids, p)
				break
			}
		}
	}
	sort.Strings(ids)
	var b bytes.Buffer
	b.WriteByte('[')
	for i, p := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"application":{"namespace":{"id":`)
		cdapWriteString(&b, ns)
		b.WriteString(`},"applicationId":`)
		cdapWriteString(&b, p)
		b.WriteString(`},"type":"Worker","id":`)
		cdapWriteString(&b, p)
		b.WriteByte('}')
	}
	b.WriteByte(']')
	cdapJSON(c, b.Bytes())
}

// firstBad returns the first failed id check, in the order given (spec §1:
// the first failure answers). The checks return *cdapErr, not error, so a
// nil check result never becomes a non-nil interface here.
func firstBad(checks ...*cdapErr) *cdapErr {
	for _, e := range checks {
		if e != nil {
			return e
		}
	}
	return nil
}

// pipelineStreams answers …/apps/{app}/streams and …/adapters/{adapter}/streams:
// both ids name a pipeline (spec §4.9); kind is CDAP's word in the 400 text.
func (h *cdapHandler) pipelineStreams(kind, param string) gin.HandlerFunc {
	return func(c *gin.Context) {
		ns, p := c.Param("ns"), c.Param(param)
		if bad := firstBad(checkNamespace(ns), checkProgramID(kind, p)); bad != nil {
			h.fail(c, bad)
			return
		}
		h.writeStreamRefs(c, ns, p)
	}
}

func checkProgramType(ptype string) *cdapErr {
	if !programTypes[ptype] {
		return cdapBadRequest("Unknown category name %s", ptype)
	}
	return nil
}

func (h *cdapHandler) programStreams(c *gin.Context) {
	ns, app, ptype, prog := c.Param("ns"), c.Param("app"), c.Param("ptype"), c.Param("program")
	if bad := firstBad(checkNamespace(ns), checkProgramID("application", app), checkProgramType(ptype),
		checkProgramID("program", prog)); bad != nil {
		h.fail(c, bad)
		return
	}
	// A pipeline is an application holding one program of the same id.
	if prog != app {
		app = ""
	}
	h.writeStreamRefs(c, ns, app)
}

func (h *cdapHandler) datasetPrograms(c *gin.Context) {
	ns, ds := c.Param("ns"), c.Param("dataset")
	if bad := checkNamespace(ns); bad != nil {
		h.fail(c, bad)
		return
	}
	if !cdapValidID(ds, "-.$") {
		h.fail(c, cdapBadRequest("Invalid dataset ID: %s. Should only contain alphanumeric characters and $ . _ or -.", ds))
		return
	}
	h.writeProgramRefs(c, ns, ds)
}

func (h *cdapHandler) streamPrograms(c *gin.Context) {
	ns, id, cerr := streamIDs(c)
	if cerr != nil {
		h.fail(c, cerr)
		return
	}
	h.writeProgramRefs(c, ns, id)
}
