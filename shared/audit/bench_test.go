package audit_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"caas.dev/shared/audit"
)

// benchChain is the length of the chain the verification benchmarks read.
const benchChain = 2000

// BenchmarkAudit measures, in one run so the figures compare: appending in batches of 100
// (records/s), raw SHA-256 over the canonical encodings of a chain's records, recomputing the
// chain's hashes in memory, and Verify end to end (reading from the store). The last two
// report their speed against raw SHA-256 as a ratio (x_sha256: 1.0 = as fast).
func BenchmarkAudit(b *testing.B) {
	w := newWorld(b, 1000)
	base := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

	b.Run("append_batch100", func(b *testing.B) {
		tenant := newTenant()
		b.ResetTimer()
		for i := range b.N {
			mustAppend(b, w.svc, tenant, inputs(fmt.Sprintf("a%d", i), 100, base))
		}
		b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "records/s")
	})

	tenant := newTenant()
	for i := range benchChain / 100 {
		mustAppend(b, w.svc, tenant, inputs(fmt.Sprintf("v%d", i), 100, base))
	}
	recs, _, err := w.svc.Query(context.Background(), tenant, audit.Filter{}, "", audit.MaxQueryLimit)
	if err != nil || len(recs) == 0 {
		b.Fatalf("query: %d records, %v", len(recs), err)
	}
	// Every record of the chain, for the in-memory figures: read page by page.
	var chain []audit.Record
	for cursor := ""; ; {
		page, next, err := w.svc.Query(context.Background(), tenant, audit.Filter{}, cursor, audit.MaxQueryLimit)
		if err != nil {
			b.Fatal(err)
		}
		chain = append(chain, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	canon := make([][]byte, len(chain))
	for i, r := range chain {
		if canon[i], err = r.Canonical(); err != nil {
			b.Fatal(err)
		}
	}

	var shaPerRecord float64 // ns per record of raw SHA-256, for the ratios below
	b.Run("sha256_raw", func(b *testing.B) {
		var prev [32]byte
		for range b.N {
			for _, c := range canon {
				h := sha256.New()
				h.Write(prev[:])
				h.Write(c)
				h.Sum(prev[:0])
			}
		}
		shaPerRecord = float64(b.Elapsed().Nanoseconds()) / float64(b.N*len(canon))
		b.ReportMetric(1e9/shaPerRecord, "records/s")
	})
	ratio := func(b *testing.B, records int) {
		perRecord := float64(b.Elapsed().Nanoseconds()) / float64(records)
		b.ReportMetric(1e9/perRecord, "records/s")
		if shaPerRecord > 0 {
			b.ReportMetric(shaPerRecord/perRecord, "x_sha256")
		}
	}
	b.Run("recompute_in_memory", func(b *testing.B) {
		for range b.N {
			for _, r := range chain {
				h, err := r.ComputeHash()
				if err != nil || h != r.Hash {
					b.Fatalf("record %d does not rehash", r.Seq)
				}
			}
		}
		ratio(b, b.N*len(chain))
	})
	b.Run("verify", func(b *testing.B) {
		for range b.N {
			v, err := w.svc.Verify(context.Background(), tenant, 1, 0)
			if err != nil || !v.Valid || v.Checked != benchChain {
				b.Fatalf("verify = %+v, %v", v, err)
			}
		}
		ratio(b, b.N*benchChain)
	})
}
