package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"sync"
	"time"

	"caas.dev/shared/clock"
	"caas.dev/shared/keys"
)

// SecretKeeper seals the audit trail's per-tenant secrets with the key service;
// *keys.Service is the production one.
type SecretKeeper interface {
	Encrypt(ctx context.Context, tenantID, name string, plaintext, context []byte) (string, error)
	Decrypt(ctx context.Context, tenantID, ciphertext string, context []byte) ([]byte, error)
}

// CheckpointSink also writes each new checkpoint elsewhere (object storage), so a copy
// survives outside the database. A failure is logged; the checkpoint stays in the store.
type CheckpointSink interface {
	PutCheckpoint(ctx context.Context, c Checkpoint) error
}

// Defaults of Config.
const (
	DefaultCheckpointEvery    = 1000
	DefaultCheckpointInterval = time.Hour
	// maxAppendAttempts bounds how often Append re-reads the head after losing a race.
	maxAppendAttempts = 64
)

// Config is what a Service needs. Store and Secrets are required.
type Config struct {
	Store   Store
	Secrets SecretKeeper
	Clock   clock.Clock
	// Sink, when not nil, receives every checkpoint made.
	Sink CheckpointSink
	// A checkpoint is made by the Append that takes the chain CheckpointEvery records past the
	// last checkpoint, or that finds the last one older than CheckpointInterval.
	CheckpointEvery    int64
	CheckpointInterval time.Duration
	Logger             *slog.Logger
}

// Service appends to, verifies and queries tenants' audit chains.
type Service struct {
	cfg Config

	mu         sync.Mutex
	pseudonyms map[string][]byte             // tenant -> pseudonym key
	links      map[string]linkEntry          // tenant\x00user -> a link written lately
	signers    map[string]ed25519.PrivateKey // tenant -> checkpoint key
	heads      map[string]Record             // tenant -> last head seen, a hint
}

// New returns a Service over c.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Secrets == nil {
		return nil, errors.New("audit: a store and a secret keeper are required")
	}
	if c.Clock == nil {
		c.Clock = clock.System{}
	}
	if c.CheckpointEvery <= 0 {
		c.CheckpointEvery = DefaultCheckpointEvery
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: c, pseudonyms: map[string][]byte{}, links: map[string]linkEntry{}, signers: map[string]ed25519.PrivateKey{}, heads: map[string]Record{}}, nil
}

// AppendResult says what an Append did: how many records it added, how many it skipped as
// already in the chain (a retried hand-over), and the chain's head after it.
type AppendResult struct {
	Appended int
	Skipped  int
	HeadSeq  int64
	HeadHash string
}

// Append adds records to the tenant's chain in the order given, each with the next seq, the
// previous record's hash and its own. A record whose ID is in the chain already (or earlier in
// the same batch) is skipped. Concurrent Appends never fork the chain: the insert of a seq
// that another took fails on the unique (tenant, seq) index, and the loser re-reads the head
// and retries. It fails with ErrInvalidRecord (nothing stored) or ErrContention.
func (s *Service) Append(ctx context.Context, tenantID string, in []Input) (AppendResult, error) {
	if tenantID == "" {
		return AppendResult{}, errors.New("append audit records: tenant is empty")
	}
	if len(in) > MaxBatch {
		return AppendResult{}, fmt.Errorf("append audit records: %d records, at most %d", len(in), MaxBatch)
	}
	pending := make([]Input, 0, len(in))
	seen := make(map[string]bool, len(in))
	for i, r := range in {
		if err := r.validate(); err != nil {
			return AppendResult{}, fmt.Errorf("record %d: %w", i, err)
		}
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		r.Time = r.Time.UTC().Truncate(time.Millisecond)
		pending = append(pending, r)
	}
	res := AppendResult{Skipped: len(in) - len(pending)}

	// The first attempt inserts at once: the unique (tenant, record id) index refuses a record
	// already in the chain, so only a conflict costs the look-up of existing ids.
	todo := pending
	var head Record
	for attempt := 0; ; attempt++ {
		var err error
		if attempt > 0 {
			remaining := len(todo)
			if todo, err = s.notInChain(ctx, tenantID, todo); err != nil {
				return res, err
			}
			res.Skipped += remaining - len(todo)
		}
		head, err = s.head(ctx, tenantID)
		if err != nil {
			return res, err
		}
		if len(todo) == 0 {
			break
		}
		recs, err := link(tenantID, head, todo)
		if err != nil {
			return res, err
		}
		n, err := s.cfg.Store.Insert(ctx, recs)
		res.Appended += n
		if n > 0 {
			s.remember(recs[n-1])
			head = recs[n-1]
		}
		if err == nil {
			break
		}
		if !errors.Is(err, ErrConflict) {
			return res, fmt.Errorf("append audit records: %w", err)
		}
		todo = todo[n:]
		if attempt+1 >= maxAppendAttempts {
			return res, ErrContention
		}
		if attempt > 0 {
			// Another appender keeps taking the head: back off, with jitter so losers spread.
			select {
			case <-ctx.Done():
				return res, fmt.Errorf("append audit records: %w", ctx.Err())
			case <-time.After(time.Duration(1+mathrand.IntN(attempt*5)) * time.Millisecond):
			}
		}
	}
	res.HeadSeq, res.HeadHash = head.Seq, head.Hash
	if res.Appended > 0 {
		s.maybeCheckpoint(ctx, tenantID, head)
	}
	return res, nil
}

// notInChain returns the inputs whose ids the tenant's chain does not hold yet.
func (s *Service) notInChain(ctx context.Context, tenantID string, pending []Input) ([]Input, error) {
	ids := make([]string, len(pending))
	for i, r := range pending {
		ids[i] = r.ID
	}
	existing, err := s.cfg.Store.ExistingIDs(ctx, tenantID, ids)
	if err != nil {
		return nil, fmt.Errorf("append audit records: %w", err)
	}
	todo := make([]Input, 0, len(pending))
	for _, r := range pending {
		if !existing[r.ID] {
			todo = append(todo, r)
		}
	}
	return todo, nil
}

// head returns the chain's last record, or a zero record with the genesis hash for an empty
// chain. The head this instance wrote last is a hint: when no record follows it (one lookup by
// primary key), it is the head still; otherwise the store is asked.
func (s *Service) head(ctx context.Context, tenantID string) (Record, error) {
	s.mu.Lock()
	hint, ok := s.heads[tenantID]
	s.mu.Unlock()
	if ok {
		_, err := s.cfg.Store.Record(ctx, tenantID, hint.Seq+1)
		if errors.Is(err, ErrNotFound) {
			return hint, nil
		}
		if err != nil {
			return Record{}, fmt.Errorf("read audit chain head: %w", err)
		}
	}
	h, err := s.cfg.Store.Head(ctx, tenantID)
	if errors.Is(err, ErrNotFound) {
		return Record{TenantID: tenantID, Hash: GenesisHash}, nil
	}
	if err != nil {
		return Record{}, fmt.Errorf("read audit chain head: %w", err)
	}
	s.remember(h)
	return h, nil
}

// maxHeadHints bounds the heads remembered; past it the memory starts over.
const maxHeadHints = 10000

// remember keeps r as the hint of its tenant's head.
func (s *Service) remember(r Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.heads) >= maxHeadHints {
		clear(s.heads)
	}
	if r.Seq > s.heads[r.TenantID].Seq {
		s.heads[r.TenantID] = r
	}
}

// link places inputs after head, computing each record's previous hash and hash.
func link(tenantID string, head Record, in []Input) ([]Record, error) {
	out := make([]Record, len(in))
	prev, seq := head.Hash, head.Seq
	for i, r := range in {
		seq++
		rec := Record{Input: r, TenantID: tenantID, Seq: seq, PreviousHash: prev}
		h, err := rec.ComputeHash()
		if err != nil {
			return nil, fmt.Errorf("hash audit record %s: %w", r.ID, err)
		}
		rec.Hash = h
		out[i] = rec
		prev = h
	}
	return out, nil
}

// maybeCheckpoint signs the head when the policy calls for it. The records are stored
// already, so a failure is logged, not returned: the next Append tries again.
func (s *Service) maybeCheckpoint(ctx context.Context, tenantID string, head Record) {
	last, err := s.cfg.Store.LastCheckpoint(ctx, tenantID, head.Seq)
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.cfg.Logger.WarnContext(ctx, "audit checkpoint: read last", "tenant_id", tenantID, "error", err)
		return
	}
	now := s.cfg.Clock.Now().UTC().Truncate(time.Millisecond)
	due := err != nil || head.Seq-last.Seq >= s.cfg.CheckpointEvery ||
		(head.Seq > last.Seq && now.Sub(last.Time) >= s.cfg.CheckpointInterval)
	if !due {
		return
	}
	if _, err := s.Checkpoint(ctx, tenantID, head, now); err != nil {
		s.cfg.Logger.WarnContext(ctx, "audit checkpoint failed", "tenant_id", tenantID, "seq", head.Seq, "error", err)
	}
}

// Checkpoint signs head (a record of the tenant's chain) at time now, stores the checkpoint
// and hands it to the sink. A checkpoint that exists at that seq already is returned as is.
func (s *Service) Checkpoint(ctx context.Context, tenantID string, head Record, now time.Time) (Checkpoint, error) {
	key, keyID, err := s.signer(ctx, tenantID)
	if err != nil {
		return Checkpoint{}, err
	}
	c := Checkpoint{TenantID: tenantID, Seq: head.Seq, Hash: head.Hash, Time: now.UTC().Truncate(time.Millisecond), KeyID: keyID}
	payload, err := c.Payload()
	if err != nil {
		return Checkpoint{}, fmt.Errorf("encode checkpoint: %w", err)
	}
	c.Signature = hex.EncodeToString(ed25519.Sign(key, payload))
	if err := s.cfg.Store.InsertCheckpoint(ctx, c); err != nil {
		if errors.Is(err, ErrConflict) {
			return s.cfg.Store.LastCheckpoint(ctx, tenantID, head.Seq)
		}
		return Checkpoint{}, fmt.Errorf("store checkpoint: %w", err)
	}
	if s.cfg.Sink != nil {
		if err := s.cfg.Sink.PutCheckpoint(ctx, c); err != nil {
			// TODO: a checkpoint the sink refused is not offered to it again, so the copy
			// outside the database misses it until a later checkpoint supersedes it.
			s.cfg.Logger.WarnContext(ctx, "audit checkpoint sink failed", "tenant_id", tenantID, "seq", c.Seq, "error", err)
		}
	}
	return c, nil
}

// secretContext binds a sealed audit secret to its purpose and key id (the key service binds
// the tenant), so one copied to another place does not open.
func secretContext(purpose, keyID string) []byte {
	return []byte("caas.audit\x00" + purpose + "\x00" + keyID)
}

// sealed returns the tenant's secret for purpose, making it on first use with create: the first
// insert wins, a loser of the race reads the winner's.
func (s *Service) sealed(ctx context.Context, tenantID, purpose string, create func() (Sealed, []byte, error)) (Sealed, []byte, error) {
	for attempt := 0; attempt < 3; attempt++ {
		got, err := s.cfg.Store.Sealed(ctx, tenantID, purpose)
		if err == nil {
			secret, err := s.cfg.Secrets.Decrypt(ctx, tenantID, got.Sealed, secretContext(purpose, got.KeyID))
			if err != nil {
				return Sealed{}, nil, fmt.Errorf("open audit %s key: %w", purpose, err)
			}
			return got, secret, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return Sealed{}, nil, fmt.Errorf("read audit %s key: %w", purpose, err)
		}
		fresh, secret, err := create()
		if err != nil {
			return Sealed{}, nil, err
		}
		fresh.TenantID, fresh.Purpose = tenantID, purpose
		fresh.CreatedAt = s.cfg.Clock.Now().UTC().Truncate(time.Millisecond)
		fresh.Sealed, err = s.cfg.Secrets.Encrypt(ctx, tenantID, keys.SecretsKeyName, secret, secretContext(purpose, fresh.KeyID))
		if err != nil {
			return Sealed{}, nil, fmt.Errorf("seal audit %s key: %w", purpose, err)
		}
		err = s.cfg.Store.InsertSealed(ctx, fresh)
		if err == nil {
			return fresh, secret, nil
		}
		if !errors.Is(err, ErrConflict) {
			return Sealed{}, nil, fmt.Errorf("store audit %s key: %w", purpose, err)
		}
	}
	return Sealed{}, nil, fmt.Errorf("audit %s key: %w", purpose, ErrContention)
}

// signer returns the tenant's checkpoint signing key and its id.
func (s *Service) signer(ctx context.Context, tenantID string) (ed25519.PrivateKey, string, error) {
	s.mu.Lock()
	k, ok := s.signers[tenantID]
	s.mu.Unlock()
	if ok {
		return k, keyIDOf(k.Public().(ed25519.PublicKey)), nil
	}
	_, seed, err := s.sealed(ctx, tenantID, PurposeCheckpoint, func() (Sealed, []byte, error) {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return Sealed{}, nil, fmt.Errorf("generate checkpoint key: %w", err)
		}
		return Sealed{KeyID: keyIDOf(pub), Public: pub}, priv.Seed(), nil
	})
	if err != nil {
		return nil, "", err
	}
	if len(seed) != ed25519.SeedSize {
		return nil, "", errors.New("open audit checkpoint key: wrong seed size")
	}
	k = ed25519.NewKeyFromSeed(seed)
	s.mu.Lock()
	s.signers[tenantID] = k
	s.mu.Unlock()
	return k, keyIDOf(k.Public().(ed25519.PublicKey)), nil
}

// keyIDOf names a checkpoint public key: "ack_" and the first 16 bytes of its SHA-256, hex.
func keyIDOf(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ack_" + hex.EncodeToString(sum[:16])
}

// PublicKey returns the tenant's checkpoint public key and its id, making the key pair on
// first use. It is published (in Verify's answer) so anyone can check checkpoints.
func (s *Service) PublicKey(ctx context.Context, tenantID string) (ed25519.PublicKey, string, error) {
	k, id, err := s.signer(ctx, tenantID)
	if err != nil {
		return nil, "", err
	}
	return k.Public().(ed25519.PublicKey), id, nil
}

// PseudonymPrefix starts every pseudonym.
const PseudonymPrefix = "psn_"

// Pseudonym returns how the user appears in the tenant's audit records:
// "psn_" + hex(HMAC-SHA256(tenant's pseudonym key, user id)). The key is random per tenant,
// sealed under the tenant's secrets key, so a pseudonym is stable within a tenant, differs
// across tenants and cannot be computed from a user id without the key. The link from the
// pseudonym to the user is stored apart from the chain (ForgetUser deletes it). For a user
// ForgetUser forgot, every call returns a fresh random pseudonym of the same form, with no link:
// later records about them are tied neither to the old ones nor to each other.
func (s *Service) Pseudonym(ctx context.Context, tenantID, userID string) (string, error) {
	if tenantID == "" || userID == "" {
		return "", errors.New("audit pseudonym: tenant and user are required")
	}
	key, err := s.pseudonymKey(ctx, tenantID)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(userID))
	p := PseudonymPrefix + hex.EncodeToString(m.Sum(nil))
	if s.linkWritten(tenantID, userID, p) {
		return p, nil
	}
	l := PseudonymLink{TenantID: tenantID, Pseudonym: p, UserID: userID, CreatedAt: s.cfg.Clock.Now().UTC().Truncate(time.Millisecond)}
	if err := s.cfg.Store.InsertLink(ctx, l); err != nil {
		if errors.Is(err, ErrForgotten) {
			// The old pseudonym must never be written again: it would tie the records made
			// before the erasure to the new ones, and to anyone who knows the user's id.
			return unlinkedPseudonym()
		}
		return "", fmt.Errorf("store pseudonym link: %w", err)
	}
	s.rememberLink(tenantID, userID, p)
	return p, nil
}

// Bounds of the per-instance cache of written pseudonym links, which spares a database write
// per recorded request. An entry is trusted for linkTTL only, so an instance stops using an
// erased user's pseudonym within that time.
const (
	linkTTL      = time.Minute
	maxLinkCache = 10000
)

type linkEntry struct {
	pseudonym string
	until     time.Time
}

func (s *Service) linkWritten(tenantID, userID, pseudonym string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.links[tenantID+"\x00"+userID]
	return ok && e.pseudonym == pseudonym && s.cfg.Clock.Now().Before(e.until)
}

func (s *Service) rememberLink(tenantID, userID, pseudonym string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.links) >= maxLinkCache {
		clear(s.links)
	}
	s.links[tenantID+"\x00"+userID] = linkEntry{pseudonym: pseudonym, until: s.cfg.Clock.Now().Add(linkTTL)}
}

// forgetLinks drops the cached links of a user, so this instance writes (and so checks) the
// link again on the next record about them.
func (s *Service) forgetLinks(tenantID, userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.links, tenantID+"\x00"+userID)
}

func (s *Service) pseudonymKey(ctx context.Context, tenantID string) ([]byte, error) {
	s.mu.Lock()
	k, ok := s.pseudonyms[tenantID]
	s.mu.Unlock()
	if ok {
		return k, nil
	}
	_, k, err := s.sealed(ctx, tenantID, PurposePseudonym, func() (Sealed, []byte, error) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return Sealed{}, nil, fmt.Errorf("generate pseudonym key: %w", err)
		}
		return Sealed{KeyID: "v1"}, b, nil
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.pseudonyms[tenantID] = k
	s.mu.Unlock()
	return k, nil
}

// ResolvePseudonym returns the user a pseudonym stands for, or ErrNotFound when the link was
// never made or was deleted by erasure.
func (s *Service) ResolvePseudonym(ctx context.Context, tenantID, pseudonym string) (string, error) {
	l, err := s.cfg.Store.Link(ctx, tenantID, pseudonym)
	if err != nil {
		return "", err
	}
	return l.UserID, nil
}

// ForgetUser deletes the links from the user's pseudonyms to them (erasure). The records
// and the chain are untouched and still verify; the pseudonym no longer names anyone.
func (s *Service) ForgetUser(ctx context.Context, tenantID, userID string) (int, error) {
	s.forgetLinks(tenantID, userID)
	n, err := s.cfg.Store.DeleteLinks(ctx, tenantID, userID)
	if err != nil {
		return 0, fmt.Errorf("delete pseudonym links: %w", err)
	}
	return n, nil
}
