package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/weirflow/weir/config"
)

// The client commands (topic, produce, consume, group, stream, bench) talk to
// a running weir over its REST APIs only, so they work against a remote
// server exactly as against a local one.

// DefaultURL is where client commands look for weir without --url/WEIR_URL.
const DefaultURL = "http://127.0.0.1:4195"

// clientFlags are the flags every client command takes.
func clientFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "url", Value: DefaultURL, EnvVars: []string{"WEIR_URL"}, Usage: "weir's base `URL`"},
		&ucli.StringFlag{Name: "namespace", Aliases: []string{"N"}, Value: config.DefaultNamespace, Usage: "`NAMESPACE` of topics and groups"},
		&ucli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"},
	}
}

// Client is a small HTTP client for weir's REST APIs.
type Client struct {
	base *url.URL
	http *http.Client
}

// NewClient returns a client for the weir at baseURL. hc may be nil.
func NewClient(baseURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError{fmt.Errorf("--url %q: want http://host:port", baseURL)}
	}
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: u, http: hc}, nil
}

func clientFrom(c *ucli.Context) (*Client, error) {
	return NewClient(c.String("url"), nil)
}

// APIError is a non-2xx answer; Message is the server's own text.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// request describes one call. path segments are escaped by the caller with
// seg; query may be nil.
type request struct {
	method      string
	path        string
	query       url.Values
	body        io.Reader
	contentType string
	header      http.Header
}

// do sends r and returns the response with its body read. A non-2xx answer
// is an *APIError carrying the server's message.
func (c *Client) do(ctx context.Context, r request) (*http.Response, []byte, error) {
	u := *c.base
	u.Path = c.base.Path + r.path
	u.RawPath = ""
	if strings.Contains(r.path, "%") {
		// Escaped segments (seg) must reach the server as sent.
		u.RawPath = c.base.EscapedPath() + r.path
		if p, err := url.PathUnescape(u.RawPath); err == nil {
			u.Path = p
		}
	}
	if r.query != nil {
		u.RawQuery = r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), r.body)
	if err != nil {
		return nil, nil, err
	}
	for k, vs := range r.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := readBody(resp)
	if err != nil {
		return resp, nil, fmt.Errorf("%s %s: reading answer: %w", r.method, u.Path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, body, &APIError{Status: resp.StatusCode, Message: errorMessage(resp, body)}
	}
	return resp, body, nil
}

// maxPresize bounds the buffer readBody allocates up front from a
// Content-Length header.
const maxPresize = 64 << 20

// readBody reads an answer into one buffer of its Content-Length when the
// server sent one (polls always do): io.ReadAll grows from 512 bytes and
// copies a ~1 MiB poll answer a dozen times, which was a good part of
// `weir bench consume`'s own CPU.
func readBody(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= maxPresize {
		buf := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(resp.Body)
}

// getJSON GETs path and decodes the JSON answer into v.
func (c *Client) getJSON(ctx context.Context, path string, query url.Values, v any) error {
	_, body, err := c.do(ctx, request{method: http.MethodGet, path: path, query: query})
	if err != nil {
		return err
	}
	return decodeAnswer(body, v)
}

// sendJSON sends in as JSON (nil: no body) and decodes the answer into out
// (nil: ignore it).
func (c *Client) sendJSON(ctx context.Context, method, path string, in, out any) error {
	r := request{method: method, path: path}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		r.body, r.contentType = bytes.NewReader(b), "application/json"
	}
	_, body, err := c.do(ctx, r)
	if err != nil || out == nil {
		return err
	}
	return decodeAnswer(body, out)
}

func decodeAnswer(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("unexpected answer from server: %v", err)
	}
	return nil
}

// errorMessage extracts the server's message from an error answer in any of
// weir's families: {"error":...} (admin), lint JSON (streams), or plain text
// (streams, CDAP, PolarStreams).
func errorMessage(resp *http.Response, body []byte) string {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var e struct {
			Error      string   `json:"error"`
			LintErrors []string `json:"lint_errors"`
		}
		if json.Unmarshal(trimmed, &e) == nil {
			switch {
			case e.Error != "":
				return e.Error
			case len(e.LintErrors) > 0:
				return "lint errors:\n  " + strings.Join(e.LintErrors, "\n  ")
			}
		}
	}
	if len(trimmed) > 0 {
		return string(trimmed)
	}
	return http.StatusText(resp.StatusCode)
}

// seg escapes one path segment (a topic, group or stream id).
func seg(s string) string { return url.PathEscape(s) }

// adminPath builds a /weir/v1 path under namespace ns.
func adminPath(ns string, parts ...string) string {
	p := "/weir/v1/namespaces/" + seg(ns)
	for _, s := range parts {
		p += "/" + s
	}
	return p
}

// parseTTL reads --ttl: a Go duration, or "forever".
func parseTTL(s string) (time.Duration, bool, error) {
	if s == "" || s == "forever" {
		return 0, false, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, false, usageError{fmt.Errorf("--ttl %q: want a duration such as 72h, or forever", s)}
	}
	return d, true, nil
}
