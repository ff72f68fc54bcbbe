package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"caas.dev/shared/runtime/httpapi"
	"caas.dev/shared/runtime/wsapi"
)

// listenWebSocket opens the WebSocket API's listener when the template has one and returns the
// address functions reach it at. `caas invoke` does not listen: its function talks to the
// WebSocket API of the `caas run` that is up, at CAAS_WS_ADDR.
func (s *stack) listenWebSocket() (string, error) {
	if len(s.tmpl.WebSocketAPIs) == 0 {
		return "", nil
	}
	if s.cfg.reuseRunning {
		return s.cfg.WSAddr, nil
	}
	ln, err := net.Listen("tcp", s.cfg.WSAddr)
	if err != nil {
		return "", fmt.Errorf("WebSocket API: listen on %s: %w", s.cfg.WSAddr, err)
	}
	s.wsLn = ln
	return ln.Addr().String(), nil
}

// webSocketAPI serves the WebSocket API on the listener setup opened.
type webSocketAPI struct {
	server *wsapi.Server
	http   *http.Server
	done   chan error
}

// startWebSocket serves the template's WebSocket API; nil when it has none.
func startWebSocket(s *stack) (*webSocketAPI, error) {
	if s.wsLn == nil {
		return nil, nil
	}
	opts, err := wsapi.OptionsFromEnv(s.cfg.Getenv)
	if err != nil {
		return nil, err
	}
	opts.Logger = s.cfg.Logger
	server, err := wsapi.New(s.tmpl, s.host, opts)
	if err != nil {
		return nil, err
	}
	w := &webSocketAPI{server: server, http: httpapi.NewServer(server), done: make(chan error, 1)}
	go func() { w.done <- w.http.Serve(s.wsLn) }()
	api := server.API()
	url := "ws://" + s.wsLn.Addr().String()
	if len(api.Stages) > 0 {
		url += "/" + api.Stages[0]
	}
	fmt.Fprintf(s.cfg.Stdout, "WebSocket API %s on %s\n", api.Name, url)
	s.cfg.Logger.Info("WebSocket API ready", "api", api.Name, "url", url, "routes", len(api.Routes))
	if s.cfg.OnWebSocket != nil {
		s.cfg.OnWebSocket(url)
	}
	return w, nil
}

// stop refuses new handshakes, closes every connection (1001) and waits, bounded by ctx, for
// their $disconnect invocations, which need the function host still up.
func (w *webSocketAPI) stop(ctx context.Context) error {
	if w == nil {
		return nil
	}
	var errs []error
	if err := w.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop WebSocket listener: %w", err))
	}
	if err := w.server.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
