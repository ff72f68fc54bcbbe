// Package gdprtest holds the conformance suites every implementation of the gdpr stores must
// pass, run against each backend by that backend's tests.
package gdprtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"caas.dev/shared/gdpr"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
)

// Stores are the stores under test, on fresh, empty databases.
type Stores struct {
	Consents gdpr.ConsentStore
	// Users creates the users whose profiles are rectified.
	Users    identity.UserStore
	Profiles gdpr.ProfileStore
}

var base = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func consent(tenantID, userID, purpose string, granted bool, at time.Time) gdpr.Consent {
	return gdpr.Consent{ID: ids.Make(ids.Consent, at, nil), TenantID: tenantID, UserID: userID, Purpose: purpose,
		PolicyVersion: "1", Granted: granted, Source: gdpr.SourceWeb, RecordedAt: at, RecordedBy: userID}
}

// RunConsentStoreSuite checks a gdpr.ConsentStore: append-only records settled by id, history
// newest first with total order across pages, the current state per purpose, tenant isolation
// and deletion for erasure.
func RunConsentStoreSuite(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("append is settled by id", func(t *testing.T) {
		s := open(t).Consents
		ctx := t.Context()
		c := consent("ten_a", "usr_1", "marketing", true, base)
		got, created, err := s.AppendConsent(ctx, c)
		if err != nil || !created || got != c {
			t.Fatalf("first append = %+v, %v, %v; want the record, created", got, created, err)
		}
		again := c
		again.Granted = false
		got, created, err = s.AppendConsent(ctx, again)
		if err != nil || created || !got.Granted {
			t.Fatalf("second append with the id = %+v, %v, %v; want the first record, not created", got, created, err)
		}
	})
	t.Run("concurrent appends of one record store one", func(t *testing.T) {
		s := open(t).Consents
		ctx := t.Context()
		c := consent("ten_a", "usr_1", "analytics", true, base)
		var wg sync.WaitGroup
		var mu sync.Mutex
		createdN := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, created, err := s.AppendConsent(ctx, c)
				if err != nil {
					t.Error(err)
				}
				if created {
					mu.Lock()
					createdN++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		items, err := s.ListConsents(ctx, "ten_a", "usr_1", "", gdpr.ConsentPosition{}, 100)
		if err != nil || len(items) != 1 || createdN != 1 {
			t.Fatalf("stored %d records, %d created (err %v); want 1, 1", len(items), createdN, err)
		}
	})
	t.Run("history newest first, paged, current per purpose, isolated", func(t *testing.T) {
		s := open(t).Consents
		ctx := t.Context()
		var want []gdpr.Consent
		for i := range 7 {
			purpose := []string{"marketing", "analytics"}[i%2]
			// Two records share each timestamp, so ties are broken by id.
			c := consent("ten_a", "usr_1", purpose, i%3 != 0, base.Add(time.Duration(i/2)*time.Second))
			if _, _, err := s.AppendConsent(ctx, c); err != nil {
				t.Fatal(err)
			}
			want = append(want, c)
		}
		for _, c := range []gdpr.Consent{
			consent("ten_b", "usr_1", "marketing", true, base.Add(time.Hour)),
			consent("ten_a", "usr_2", "marketing", true, base.Add(time.Hour)),
		} {
			if _, _, err := s.AppendConsent(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		var got []gdpr.Consent
		var after gdpr.ConsentPosition
		for page := 0; page < 10; page++ {
			items, err := s.ListConsents(ctx, "ten_a", "usr_1", "", after, 3)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, items...)
			if len(items) < 3 {
				break
			}
			last := items[len(items)-1]
			after = gdpr.ConsentPosition{RecordedAt: last.RecordedAt, ID: last.ID}
		}
		if len(got) != len(want) {
			t.Fatalf("listed %d records, want %d", len(got), len(want))
		}
		for i := 1; i < len(got); i++ {
			p, c := got[i-1], got[i]
			if p.RecordedAt.Before(c.RecordedAt) || p.RecordedAt.Equal(c.RecordedAt) && p.ID <= c.ID {
				t.Errorf("records %d and %d out of order: %s %s, %s %s", i-1, i, p.RecordedAt, p.ID, c.RecordedAt, c.ID)
			}
		}
		cur, err := s.CurrentConsents(ctx, "ten_a", "usr_1", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(cur) != 2 || cur["marketing"].ID != got[0].ID && cur["analytics"].ID != got[0].ID {
			t.Fatalf("current = %+v; want one per purpose, the newest among them %s", cur, got[0].ID)
		}
		for p, c := range cur {
			for _, g := range got {
				if g.Purpose == p {
					if g.ID != c.ID {
						t.Errorf("current %s = %s, want the newest %s", p, c.ID, g.ID)
					}
					break
				}
			}
		}
		only, err := s.ListConsents(ctx, "ten_a", "usr_1", "analytics", gdpr.ConsentPosition{}, 100)
		if err != nil || len(only) != 3 {
			t.Fatalf("analytics records = %d (%v), want 3", len(only), err)
		}
		cur, err = s.CurrentConsents(ctx, "ten_a", "usr_1", "analytics")
		if err != nil || len(cur) != 1 {
			t.Fatalf("current analytics = %+v (%v); want one purpose", cur, err)
		}

		n, err := s.DeleteForUser(ctx, "ten_a", "usr_1")
		if err != nil || n != int64(len(want)) {
			t.Fatalf("DeleteForUser = %d, %v; want %d", n, err, len(want))
		}
		for _, who := range [][2]string{{"ten_b", "usr_1"}, {"ten_a", "usr_2"}} {
			items, err := s.ListConsents(ctx, who[0], who[1], "", gdpr.ConsentPosition{}, 10)
			if err != nil || len(items) != 1 {
				t.Errorf("%s/%s kept %d records (%v), want 1", who[0], who[1], len(items), err)
			}
		}
	})
}

// RunProfileStoreSuite checks a gdpr.ProfileStore: fields change, another user's email is
// refused, a user of another tenant is not found.
func RunProfileStoreSuite(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	ctx := t.Context()
	mk := func(tenantID, email string) identity.User {
		u := identity.User{ID: ids.Random{}.New(ids.User), TenantID: tenantID, Email: email, DisplayName: "Name",
			PasswordHash: "x", Role: identity.RoleUser, CreatedAt: base}
		if err := s.Users.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	ann := mk("ten_a", "ann@example.com")
	bob := mk("ten_a", "bob@example.com")
	other := mk("ten_b", "carl@example.com")
	str := func(s string) *string { return &s }

	got, err := s.Profiles.RectifyUser(ctx, "ten_a", ann.ID, gdpr.ProfileUpdate{DisplayName: str("Ann B"), Email: str("ann.b@example.com")})
	if err != nil || got.DisplayName != "Ann B" || got.Email != "ann.b@example.com" || got.ID != ann.ID {
		t.Fatalf("rectify = %+v, %v; want the new name and email", got, err)
	}
	if u, err := s.Users.UserByEmail(ctx, "ten_a", "ann.b@example.com"); err != nil || u.ID != ann.ID {
		t.Errorf("by new email = %+v, %v", u, err)
	}
	if _, err := s.Profiles.RectifyUser(ctx, "ten_a", ann.ID, gdpr.ProfileUpdate{Email: str(bob.Email)}); !errors.Is(err, identity.ErrEmailTaken) {
		t.Errorf("taken email: err = %v, want ErrEmailTaken", err)
	}
	if u, _ := s.Users.UserByID(ctx, "ten_a", ann.ID); u.Email != "ann.b@example.com" {
		t.Errorf("after a refused change the email is %q", u.Email)
	}
	// Another tenant's email is free here.
	if _, err := s.Profiles.RectifyUser(ctx, "ten_a", ann.ID, gdpr.ProfileUpdate{Email: str(other.Email)}); err != nil {
		t.Errorf("another tenant's email: %v", err)
	}
	if _, err := s.Profiles.RectifyUser(ctx, "ten_a", other.ID, gdpr.ProfileUpdate{DisplayName: str("x")}); !errors.Is(err, identity.ErrUserNotFound) {
		t.Errorf("another tenant's user: err = %v, want ErrUserNotFound", err)
	}

	// Concurrent changes of two users to one free email: at most one keeps it.
	free := "shared@example.com"
	var wg sync.WaitGroup
	for _, u := range []identity.User{ann, bob} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Profiles.RectifyUser(ctx, "ten_a", u.ID, gdpr.ProfileUpdate{Email: &free})
			if err != nil && !errors.Is(err, identity.ErrEmailTaken) {
				t.Error(fmt.Errorf("concurrent rectify: %w", err))
			}
		}()
	}
	wg.Wait()
	n := 0
	for _, u := range []identity.User{ann, bob} {
		if got, _ := s.Users.UserByID(context.WithoutCancel(ctx), "ten_a", u.ID); got.Email == free {
			n++
		}
	}
	if n > 1 {
		t.Errorf("%d users hold %s after concurrent changes, want at most 1", n, free)
	}
}
