package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"caas.dev/shared/fault"
)

// Reasons a chain is broken at a record.
const (
	// ReasonHashMismatch: the record's stored hash is not the hash of its content, or not the
	// hash a checkpoint signed for its seq (the record was changed).
	ReasonHashMismatch = "hash_mismatch"
	// ReasonGap: no record holds the seq (one was deleted).
	ReasonGap = "gap"
	// ReasonPreviousHashMismatch: the record does not follow the one before it (records were
	// reordered or one was replaced).
	ReasonPreviousHashMismatch = "previous_hash_mismatch"
	// ReasonBadSignature: a checkpoint's signature does not verify with the tenant's key.
	ReasonBadSignature = "bad_signature"
	// ReasonUnprovenFloor: the records below BrokenSeq are gone as if retention deleted them,
	// but no retention statement in the chain declares that floor (see Trimmed).
	ReasonUnprovenFloor = "unproven_floor"
)

// verifyPage is how many records Verify reads at a time.
const verifyPage = 5000

// Verification is Verify's answer. When Valid, HeadSeq and HeadHash are the last record
// checked; otherwise BrokenSeq is the first seq at fault and Reason says why. From is where
// the recomputation started: the seq of the checkpoint it trusted (0: the genesis).
type Verification struct {
	Valid     bool
	FromSeq   int64
	ToSeq     int64
	HeadSeq   int64
	HeadHash  string
	BrokenSeq int64
	Reason    string
	// Checked counts the records recomputed, Checkpoints the signatures checked.
	Checked     int64
	Checkpoints int
	KeyID       string
	PublicKey   ed25519.PublicKey
}

// Verify recomputes the tenant's chain over fromSeq..toSeq (toSeq 0: to the head). It starts
// from the last checkpoint at or before fromSeq, whose signature it checks, recomputes every
// record from there and checks every checkpoint it passes. It answers the first seq at fault:
// a missing seq (gap), a record that does not follow its predecessor
// (previous_hash_mismatch), a record whose hash is wrong (hash_mismatch) or a checkpoint whose
// signature fails (bad_signature).
//
// Records retention deleted (see Trimmed) are not looked for: the recomputation starts at the
// floor's checkpoint at the earliest.
//
// BUG: records after the last checkpoint are protected only by the chain: deleting the newest
// records (the tail after the last checkpoint) is not detected. Frequent checkpoints, and
// their copies outside the database, bound that window.
func (s *Service) Verify(ctx context.Context, tenantID string, fromSeq, toSeq int64) (Verification, error) {
	if fromSeq < 1 || (toSeq != 0 && toSeq < fromSeq) {
		return Verification{}, ErrInvalidRange
	}
	pub, keyID, err := s.PublicKey(ctx, tenantID)
	if err != nil {
		return Verification{}, err
	}
	if toSeq == 0 {
		head, err := s.head(ctx, tenantID)
		if err != nil {
			return Verification{}, err
		}
		if head.Seq == 0 {
			// An empty chain is intact: there is nothing to break.
			return Verification{Valid: true, HeadHash: GenesisHash, KeyID: keyID, PublicKey: pub}, nil
		}
		toSeq = head.Seq
		if toSeq < fromSeq {
			return Verification{}, fault.WithDetail(ErrInvalidRange, "from_seq is past the chain's head")
		}
	}
	if t, ok := s.cfg.Store.(Trimmed); ok {
		floor, err := t.Floor(ctx, tenantID)
		if err != nil {
			return Verification{}, fmt.Errorf("verify: %w", err)
		}
		if floor > 1 {
			stated, err := s.statedFloor(ctx, tenantID)
			if err != nil {
				return Verification{}, fmt.Errorf("verify: %w", err)
			}
			if floor > stated {
				return Verification{ToSeq: toSeq, KeyID: keyID, PublicKey: pub, BrokenSeq: floor, Reason: ReasonUnprovenFloor}, nil
			}
		}
		if toSeq < floor {
			return Verification{}, fault.WithDetail(ErrInvalidRange, "the range was deleted by retention")
		}
		fromSeq = max(fromSeq, floor)
	}
	v := Verification{ToSeq: toSeq, KeyID: keyID, PublicKey: pub}
	broken := func(seq int64, reason string) (Verification, error) {
		v.BrokenSeq, v.Reason = seq, reason
		return v, nil
	}

	prevSeq, prevHash := int64(0), GenesisHash
	start, err := s.cfg.Store.LastCheckpoint(ctx, tenantID, fromSeq)
	switch {
	case err == nil:
		v.Checkpoints++
		if !checkSignature(start, pub, keyID) {
			return broken(start.Seq, ReasonBadSignature)
		}
		// The checkpointed record itself must still be what was signed.
		at, err := s.cfg.Store.Records(ctx, tenantID, start.Seq, start.Seq, 1)
		if err != nil {
			return Verification{}, fmt.Errorf("verify: read records: %w", err)
		}
		if len(at) == 0 {
			return broken(start.Seq, ReasonGap)
		}
		if h, err := at[0].ComputeHash(); err != nil || !equalHex(h, at[0].Hash) || !equalHex(h, start.Hash) {
			return broken(start.Seq, ReasonHashMismatch)
		}
		prevSeq, prevHash = start.Seq, start.Hash
	case !errors.Is(err, ErrNotFound):
		return Verification{}, fmt.Errorf("verify: read checkpoint: %w", err)
	}
	v.FromSeq = prevSeq
	cps, err := s.cfg.Store.Checkpoints(ctx, tenantID, prevSeq+1, toSeq)
	if err != nil {
		return Verification{}, fmt.Errorf("verify: read checkpoints: %w", err)
	}

	for prevSeq < toSeq {
		page, err := s.cfg.Store.Records(ctx, tenantID, prevSeq+1, toSeq, verifyPage)
		if err != nil {
			return Verification{}, fmt.Errorf("verify: read records: %w", err)
		}
		if len(page) == 0 {
			return broken(prevSeq+1, ReasonGap)
		}
		for _, r := range page {
			if r.Seq != prevSeq+1 {
				return broken(prevSeq+1, ReasonGap)
			}
			if !equalHex(r.PreviousHash, prevHash) {
				return broken(r.Seq, ReasonPreviousHashMismatch)
			}
			h, err := r.ComputeHash()
			if err != nil || !equalHex(h, r.Hash) {
				return broken(r.Seq, ReasonHashMismatch)
			}
			for len(cps) > 0 && cps[0].Seq <= r.Seq {
				c := cps[0]
				cps = cps[1:]
				v.Checkpoints++
				if !checkSignature(c, pub, keyID) {
					return broken(c.Seq, ReasonBadSignature)
				}
				if c.Seq == r.Seq && !equalHex(c.Hash, r.Hash) {
					return broken(r.Seq, ReasonHashMismatch)
				}
			}
			v.Checked++
			prevSeq, prevHash = r.Seq, r.Hash
		}
	}
	v.Valid, v.HeadSeq, v.HeadHash = true, prevSeq, prevHash
	return v, nil
}

// checkSignature reports whether c is signed by the tenant's key.
func checkSignature(c Checkpoint, pub ed25519.PublicKey, keyID string) bool {
	if c.KeyID != keyID {
		return false
	}
	sig, err := hex.DecodeString(c.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return false
	}
	payload, err := c.Payload()
	if err != nil {
		return false
	}
	return ed25519.Verify(pub, payload, sig)
}

func equalHex(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// Default and maximum page sizes of Query.
const (
	DefaultQueryLimit = 50
	MaxQueryLimit     = 200
)

// Query returns the tenant's records matching f, newest first (by seq, a total order), up to
// limit (DefaultQueryLimit when 0, at most MaxQueryLimit), and the cursor of the next page
// ("" on the last). cursor is "" for the first page.
func (s *Service) Query(ctx context.Context, tenantID string, f Filter, cursor string, limit int) ([]Record, string, error) {
	if limit <= 0 {
		limit = DefaultQueryLimit
	}
	limit = min(limit, MaxQueryLimit)
	before := int64(maxSafeInteger)
	if cursor != "" {
		seq, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		before = seq
	}
	recs, err := s.cfg.Store.Query(ctx, tenantID, f, before, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("query audit records: %w", err)
	}
	if len(recs) <= limit {
		return recs, "", nil
	}
	recs = recs[:limit]
	return recs, encodeCursor(recs[limit-1].Seq), nil
}

const cursorPrefix = "audit:v1:"

func encodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(seq, 10)))
}

func decodeCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) <= len(cursorPrefix) || string(b[:len(cursorPrefix)]) != cursorPrefix {
		return 0, ErrInvalidCursor
	}
	seq, err := strconv.ParseInt(string(b[len(cursorPrefix):]), 10, 64)
	if err != nil || seq < 1 {
		return 0, ErrInvalidCursor
	}
	return seq, nil
}
