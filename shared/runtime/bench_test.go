package runtime

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"caas.dev/shared/runtime/lambdaapi"
)

// BenchmarkWarmInvoke measures a request to the echo function through the HTTP API, with the
// instance warm: the runtime's overhead over the function itself.
func BenchmarkWarmInvoke(b *testing.B) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	get := func() {
		resp, err := client.Get(baseURL + "/echo/bench")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	get() // warm
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		get()
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// BenchmarkColdStart measures the first invocation of a new instance: process start, runtime
// init and one event.
func BenchmarkColdStart(b *testing.B) {
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		// A new host each time, so no warm instance exists; its teardown is not measured.
		b.StopTimer()
		h := lambdaapi.NewHost(logger, io.Discard)
		h.Add(lambdaapi.FunctionConfig{Name: "Echo", Bootstrap: filepath.Join(binDir, "echo"), Timeout: 5 * time.Second})
		b.StartTimer()
		start := time.Now()
		if _, err := h.Invoke(context.Background(), "Echo", []byte(`{}`)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		h.Close()
		b.StartTimer()
	}
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50_ms")
	b.ReportMetric(at(0.99), "p99_ms")
}
