package http

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// dedicatedListeners are PolarStreams' optional compatibility listeners
// (polarstreams.dedicated_listeners): discovery, producer and consumer on
// their own ports of the main listener's host, each serving only its family
// plus GET /status, so clients that assume 9250/9251/9252 work unchanged.
type dedicatedListeners struct {
	mu      sync.Mutex
	lns     map[polarFamily]net.Listener
	ports   map[polarFamily]int
	servers []*http.Server
}

// ListenDedicated binds the three PolarStreams listeners when
// polarstreams.dedicated_listeners is on (a no-op otherwise, and when they
// are bound already). Port 0 picks a free port; discovery answers report the
// bound ports. Listen calls it, so a port in use fails start-up.
func (s *Server) ListenDedicated() error {
	ps := s.opts.Config.PolarStreams
	if !ps.DedicatedListeners {
		return nil
	}
	d := s.dedicated
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lns != nil {
		return nil
	}
	host, _, err := net.SplitHostPort(s.opts.Config.Server.Addr)
	if err != nil {
		return fmt.Errorf("polarstreams dedicated listeners: main address %q: %w", s.opts.Config.Server.Addr, err)
	}
	lns := map[polarFamily]net.Listener{}
	ports := map[polarFamily]int{}
	for _, l := range []struct {
		family polarFamily
		port   int
	}{{polarDiscovery, ps.DiscoveryPort}, {polarProducer, ps.ProducerPort}, {polarConsumer, ps.ConsumerPort}} {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(l.port)))
		if err != nil {
			for _, open := range lns {
				_ = open.Close()
			}
			return fmt.Errorf("polarstreams dedicated listener: %w", err)
		}
		lns[l.family] = ln
		ports[l.family] = ln.Addr().(*net.TCPAddr).Port
	}
	d.lns, d.ports = lns, ports
	// With port 0 the bound ports are known only here: scripts and
	// black-box tests find the discovery listener (which /v1/brokers does
	// not report) through these fields.
	s.log.Info().
		Str("discovery_addr", lns[polarDiscovery].Addr().String()).
		Str("producer_addr", lns[polarProducer].Addr().String()).
		Str("consumer_addr", lns[polarConsumer].Addr().String()).
		Msg("polarstreams dedicated listeners bound")
	return nil
}

// dedicatedPort is the bound port of one dedicated listener, 0 when the
// dedicated listeners are off.
func (s *Server) dedicatedPort(family polarFamily) int {
	d := s.dedicated
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ports[family]
}

// PolarPorts reports the bound dedicated PolarStreams ports (all 0 when
// the dedicated listeners are off or not bound yet).
func (s *Server) PolarPorts() (discovery, producer, consumer int) {
	return s.dedicatedPort(polarDiscovery), s.dedicatedPort(polarProducer), s.dedicatedPort(polarConsumer)
}

// serveDedicated starts serving the bound dedicated listeners (binding them
// first if Listen was not used) and returns a function that shuts them down
// gracefully.
func (s *Server) serveDedicated() (shutdown func(context.Context) error, err error) {
	if err := s.ListenDedicated(); err != nil {
		return nil, err
	}
	d := s.dedicated
	d.mu.Lock()
	defer d.mu.Unlock()
	for family, ln := range d.lns {
		srv := &http.Server{Handler: s.newPolarRouter(family), ReadHeaderTimeout: 10 * time.Second}
		d.servers = append(d.servers, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error().Err(err).Str("addr", ln.Addr().String()).Msg("polarstreams listener stopped")
			}
		}()
	}
	servers := d.servers
	return func(ctx context.Context) error {
		var first error
		for _, srv := range servers {
			if err := srv.Shutdown(ctx); err != nil && first == nil {
				first = err
			}
		}
		return first
	}, nil
}
