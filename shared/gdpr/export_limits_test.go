package gdpr_test

import (
	"archive/zip"
	"bytes"
	"io"
	"sync"
	"testing"
	"time"

	"caas.dev/shared/gdpr"
	"caas.dev/shared/idempotency"
)

// Ten parallel requests for a user's export start one job; every request gets that job. Once
// it is built, the next request starts a new one.
func TestExportOneInFlightPerUser(t *testing.T) {
	ctx := t.Context()
	f := newExportFixture(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	got, created := map[string]int{}, 0
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, c, err := f.x.StartExport(ctx, f.ann, gdpr.ExportRequest{}, idempotency.Request{})
			if err != nil {
				t.Errorf("start: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			got[e.ID]++
			if c {
				created++
			}
		}()
	}
	wg.Wait()
	if len(got) != 1 || created != 1 {
		t.Fatalf("10 parallel starts: jobs %v, %d created; want one job", got, created)
	}
	var first string
	for id := range got {
		first = id
	}
	// Another user is not held back.
	if _, c, err := f.x.StartExport(ctx, f.bob, gdpr.ExportRequest{}, idempotency.Request{}); err != nil || !c {
		t.Fatalf("bob's export: %v %v", c, err)
	}
	if built, err := f.x.Build(ctx, "ten_a", first); err != nil || !built {
		t.Fatalf("build: %v %v", built, err)
	}
	e, c, err := f.x.StartExport(ctx, f.admin, gdpr.ExportRequest{UserID: f.ann.UserID}, idempotency.Request{})
	if err != nil || !c || e.ID == first {
		t.Fatalf("after the build: %+v %v %v; want a new job", e, c, err)
	}
}

// Every file of the archive is dated with the export's build time, not left at the zip
// format's zero date.
func TestExportArchiveDates(t *testing.T) {
	ctx := t.Context()
	f := newExportFixture(t)
	e, _, err := f.x.StartExport(ctx, f.ann, gdpr.ExportRequest{}, idempotency.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if built, err := f.x.Build(ctx, "ten_a", e.ID); err != nil || !built {
		t.Fatalf("build: %v %v", built, err)
	}
	rc, err := f.store.Get(ctx, f.x.ObjectKey(e))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	want := f.clk.Now().UTC().Truncate(time.Second)
	if len(zr.File) == 0 {
		t.Fatal("empty archive")
	}
	for _, zf := range zr.File {
		if !zf.Modified.Equal(want) {
			t.Errorf("%s modified %v, want %v", zf.Name, zf.Modified, want)
		}
	}
}
