package identity

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// The SessionStore methods of memStore beyond CreateSession and SessionByID.

func (m *memStore) ListSessions(_ context.Context, tenantID, userID string, limit int) ([]Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Session
	for _, s := range m.sessions {
		if s.TenantID == tenantID && s.UserID == userID && s.RevokedAt == nil {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (m *memStore) TouchSession(_ context.Context, tenantID, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sessions[id]; ok && s.TenantID == tenantID {
		s.LastUsedAt = at
		m.sessions[id] = s
	}
	return nil
}

func (m *memStore) EndSession(_ context.Context, tenantID, userID, id string, at time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok || s.TenantID != tenantID || s.UserID != userID || s.RevokedAt != nil {
		return false, nil
	}
	s.RevokedAt = &at
	m.sessions[id] = s
	return true, nil
}

func (m *memStore) EndUserSessions(_ context.Context, tenantID, userID string, at time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, s := range m.sessions {
		if s.TenantID == tenantID && s.UserID == userID && s.RevokedAt == nil {
			s.RevokedAt = &at
			m.sessions[id] = s
			n++
		}
	}
	return n, nil
}

func (m *memStore) AddRefreshToken(_ context.Context, t RefreshToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens == nil {
		m.tokens = map[string]RefreshToken{}
	}
	m.tokens[t.Hash] = t
	return nil
}

func (m *memStore) RefreshTokenByHash(_ context.Context, hash string) (RefreshToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[hash]
	if !ok {
		return RefreshToken{}, ErrRefreshTokenNotFound
	}
	return t, nil
}

func (m *memStore) SpendGeneration(_ context.Context, sp Spend) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.spends == nil {
		m.spends = map[string]Spend{}
	}
	k := fmt.Sprintf("%s/%d", sp.SessionID, sp.Generation)
	if _, ok := m.spends[k]; ok {
		return ErrAlreadySpent
	}
	m.spends[k] = sp
	return nil
}

func (m *memStore) SpentGeneration(_ context.Context, tenantID, id string, generation int) (Spend, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sp, ok := m.spends[fmt.Sprintf("%s/%d", id, generation)]
	if !ok || sp.TenantID != tenantID {
		return Spend{}, ErrRefreshTokenNotFound
	}
	return sp, nil
}
