package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readpref"
)

// readyTimeout bounds how long Start waits for a server to answer its first request.
const readyTimeout = 30 * time.Second

// startFerretDB runs FerretDB with its SQLite handler on data under dir/ferretdb and returns its
// MongoDB URI once a driver ping succeeds.
func startFerretDB(ctx context.Context, dir string, logger *slog.Logger) (string, func() error, error) {
	if dir == "" {
		return "", nil, errors.New("Options.Dir is empty: FerretDB needs a data directory")
	}
	dataDir, err := filepath.Abs(filepath.Join(dir, "ferretdb"))
	if err != nil {
		return "", nil, fmt.Errorf("resolve data directory: %w", err)
	}
	// FerretDB hands SQLite the path inside a "file:" URI without escaping it.
	if strings.ContainsAny(dataDir, "?#%") {
		return "", nil, fmt.Errorf("data directory %q: FerretDB cannot use a path containing ?, # or %%", dataDir)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", nil, fmt.Errorf("create data directory: %w", err)
	}
	unlock, err := lockDir(dataDir)
	if err != nil {
		return "", nil, err
	}

	// FerretDB logs every connection and command at info level; only its warnings matter here.
	quiet := slog.New(&minLevelHandler{min: slog.LevelWarn, next: logger.Handler()}).
		With("component", "ferretdb")
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Logger:    quiet,
		Handler:   "sqlite",
		SQLiteURL: "file:" + filepath.ToSlash(dataDir) + "/",
	})
	if err != nil {
		return "", nil, errors.Join(fmt.Errorf("create ferretdb: %w", err), unlock())
	}

	// Run must outlive ctx, which only bounds the start.
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(runCtx) // always nil: it returns when runCtx ends
	}()
	stop := func() error {
		cancel()
		select {
		case <-done:
			return unlock()
		case <-time.After(10 * time.Second):
			// The lock stays: the server may still be writing.
			return errors.New("stop ferretdb: still running after 10s")
		}
	}

	uri := f.MongoDBURI()
	if err := pingMongo(ctx, uri); err != nil {
		return "", nil, errors.Join(err, stop())
	}
	return uri, stop, nil
}

// pingMongo waits until the server at uri answers a ping, or readyTimeout passes.
func pingMongo(ctx context.Context, uri string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()

	c, err := mongo.Connect(ctx, options.Client().ApplyURI(uri).SetServerSelectionTimeout(time.Second))
	if err != nil {
		return fmt.Errorf("connect to ferretdb: %w", err)
	}
	defer c.Disconnect(context.Background()) //nolint:errcheck // a probe connection

	for {
		err = c.Ping(ctx, readpref.Primary())
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ping ferretdb at %s: %w", uri, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// minLevelHandler passes on records at or above min and drops the rest.
type minLevelHandler struct {
	min  slog.Level
	next slog.Handler
}

// Enabled implements slog.Handler.
func (h *minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.next.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h *minLevelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.next.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &minLevelHandler{min: h.min, next: h.next.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h *minLevelHandler) WithGroup(name string) slog.Handler {
	return &minLevelHandler{min: h.min, next: h.next.WithGroup(name)}
}
