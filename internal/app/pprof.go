package app

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// CheckPprofAddr accepts an address for --pprof-addr: host:port with a
// loopback host (127.0.0.1, ::1 or localhost). The profiler shows memory,
// goroutines and command lines and can be made to burn CPU, so it is
// never offered to another machine; an empty host would mean every
// interface.
func CheckPprofAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("pprof address %q: want host:port on loopback, such as 127.0.0.1:6060", addr)
	}
	if port == "" {
		return fmt.Errorf("pprof address %q: no port", addr)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("pprof address %q: the profiler listens on loopback only (127.0.0.1, ::1 or localhost), never on %q", addr, host)
}

// pprofHandler serves net/http/pprof under /debug/pprof/ on a mux of its
// own, so that it is reachable only on the pprof listener, never through
// the API's.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// listenPprof opens the pprof listener when Config.PprofAddr asks for one.
func (m *Main) listenPprof() error {
	if m.cfg.PprofAddr == "" {
		return nil
	}
	if err := CheckPprofAddr(m.cfg.PprofAddr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.cfg.PprofAddr)
	if err != nil {
		return fmt.Errorf("pprof: listen on %s: %w", m.cfg.PprofAddr, err)
	}
	// A CPU profile or trace runs for as long as its ?seconds= asks, so
	// there is no write timeout.
	m.pprofSrv = &http.Server{Handler: pprofHandler(), ReadHeaderTimeout: 10 * time.Second}
	m.pprofLn = ln
	m.log.Info("pprof listening", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return nil
}

// servePprof serves the pprof listener until Close; its failure is logged,
// never fatal to the server it profiles.
func (m *Main) servePprof() {
	if m.pprofSrv == nil {
		return
	}
	go func() {
		if err := m.pprofSrv.Serve(m.pprofLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Warn("pprof", "err", err)
		}
	}()
}

// PprofAddr is the address the profiler listens on, once Open has
// succeeded with Config.PprofAddr set; "" otherwise.
func (m *Main) PprofAddr() string {
	if m.pprofLn == nil {
		return ""
	}
	return m.pprofLn.Addr().String()
}
