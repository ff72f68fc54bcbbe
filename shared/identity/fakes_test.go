package identity

import (
	"context"
	"sync"
	"time"
)

// memStore is a hand-written in-memory UserStore and SessionStore for the service tests; the
// real stores are checked by identitytest against MongoDB.
type memStore struct {
	mu       sync.Mutex
	users    map[string]User
	sessions map[string]Session
	fail     error
	tokens   map[string]RefreshToken // lazily made by session_fakes_test.go
	spends   map[string]Spend
}

func newMemStore() *memStore {
	return &memStore{users: map[string]User{}, sessions: map[string]Session{}}
}

func (m *memStore) CreateUser(_ context.Context, u User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.users {
		if o.TenantID == u.TenantID && o.Email == u.Email {
			return ErrEmailTaken
		}
	}
	m.users[u.ID] = u
	return nil
}

func (m *memStore) UserByID(_ context.Context, tenantID, id string) (User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return User{}, m.fail
	}
	u, ok := m.users[id]
	if !ok || u.TenantID != tenantID {
		return User{}, ErrUserNotFound
	}
	return u, nil
}

func (m *memStore) UserByEmail(_ context.Context, tenantID, email string) (User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range m.users {
		if u.TenantID == tenantID && u.Email == email {
			return u, nil
		}
	}
	return User{}, ErrUserNotFound
}

func (m *memStore) CreateSession(_ context.Context, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[s.ID] = s
	return nil
}

func (m *memStore) SessionByID(_ context.Context, tenantID, id string) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok || s.TenantID != tenantID {
		return Session{}, ErrSessionNotFound
	}
	return s, nil
}

// countLimiter blocks a key after limit failures, with no window.
type countLimiter struct {
	mu       sync.Mutex
	limit    int
	failures map[string]int
}

func (l *countLimiter) Blocked(_ context.Context, key string) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failures[key] >= l.limit {
		return 1500 * time.Millisecond, nil
	}
	return 0, nil
}

func (l *countLimiter) RecordFailure(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures[key]++
	return nil
}

// memKeys is a KeyStore holding one key.
type memKeys struct{ key SigningKey }

func (k memKeys) InsertSigningKey(context.Context, SigningKey) error { return ErrKeyExists }
func (k memKeys) ActiveSigningKey(context.Context) (SigningKey, error) {
	return k.key, nil
}
func (k memKeys) SigningKeyByID(_ context.Context, id string) (SigningKey, error) {
	if id != k.key.ID {
		return SigningKey{}, ErrKeyNotFound
	}
	return k.key, nil
}
func (k memKeys) PublicKeys(context.Context) ([]PublicKey, error) {
	return []PublicKey{{ID: k.key.ID, Generation: 1, Key: &k.key.Private.PublicKey, Status: KeyActive}}, nil
}
