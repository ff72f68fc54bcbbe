package retention

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"caas.dev/shared/audit"
	"caas.dev/shared/ids"
)

// Job cursors of the run that are not one tenant's: jobTenant/categoryTenants holds the last
// tenant a run started, so the next run starts after it and every tenant gets its turn.
const (
	jobTenant        = "*"
	categoryTenants  = "tenants"
	tenantPage       = 100
	conversationPage = 100
	// AuditActorID names the retention job as the system actor of its audit records.
	AuditActorID = "retention"
	// AuditAction is the action of the record each run writes per tenant.
	AuditAction = "RUN retention"
)

// TenantResult is what a run did for one tenant: the count deleted per category, and whether
// every category got to its end (false when the time budget ran out first).
type TenantResult struct {
	TenantID string         `json:"tenant_id"`
	Deleted  map[string]int `json:"deleted"`
	Finished bool           `json:"finished"`
	Error    string         `json:"error,omitempty"`
	// AuditFloorSeq is the checkpoint seq below which this run deleted audit records (0: none).
	AuditFloorSeq int64 `json:"audit_floor_seq,omitempty"`
}

// RunResult is what a run did: the tenants it visited, the totals per category, and whether it
// visited every tenant with a policy to the end.
type RunResult struct {
	Tenants  []TenantResult `json:"tenants"`
	Deleted  map[string]int `json:"deleted"`
	Finished bool           `json:"finished"`
}

// Run deletes what is past its period for every tenant with a policy, starting after the
// tenant the previous run started with. Between batches it checks the time left (the
// context's deadline less the margin); when it runs out it records where it stopped and
// returns with Finished false. A failure in one tenant is reported in its result and the run
// goes on with the next.
func (s *Service) Run(ctx context.Context) (RunResult, error) {
	res := RunResult{Deleted: map[string]int{}}
	start, err := s.cfg.Store.Cursor(ctx, jobTenant, categoryTenants)
	if err != nil {
		return res, fmt.Errorf("read retention cursor: %w", err)
	}
	// Two passes: from start to the end, then from the beginning up to start.
	visited := 0
	for pass := 0; pass < 2; pass++ {
		after := start
		if pass == 1 {
			after = ""
		}
		for {
			tenants, err := s.cfg.Store.Tenants(ctx, after, tenantPage)
			if err != nil {
				return res, fmt.Errorf("list tenants with a retention policy: %w", err)
			}
			for _, t := range tenants {
				if pass == 1 && start != "" && t > start {
					res.Finished = true
					return res, nil
				}
				if s.out(ctx) {
					return res, nil
				}
				if err := s.cfg.Store.SetCursor(ctx, jobTenant, categoryTenants, t); err != nil {
					return res, fmt.Errorf("store retention cursor: %w", err)
				}
				tr := s.RunTenant(ctx, t)
				visited++
				res.Tenants = append(res.Tenants, tr)
				for k, v := range tr.Deleted {
					res.Deleted[k] += v
				}
				if !tr.Finished && tr.Error == "" {
					return res, nil
				}
			}
			if len(tenants) < tenantPage {
				break
			}
			after = tenants[len(tenants)-1]
		}
		if start == "" {
			break
		}
	}
	res.Finished = true
	return res, nil
}

// out reports whether the time budget is spent: the context is done, or its deadline is less
// than the margin away.
func (s *Service) out(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < s.cfg.Margin
}

// RunTenant deletes what is past its period for one tenant, category by category, and writes
// the run's audit record with the counts, zeros included: the trail shows that retention ran.
func (s *Service) RunTenant(ctx context.Context, tenantID string) TenantResult {
	tr := TenantResult{TenantID: tenantID, Deleted: map[string]int{
		CategoryMessages: 0, CategoryMedia: 0, CategoryAuditRecords: 0, CategoryExports: 0, CategorySessions: 0,
	}}
	finished, err := s.runTenant(ctx, tenantID, &tr)
	tr.Finished = finished && err == nil
	if err != nil {
		tr.Error = err.Error()
	}
	if s.cfg.Audit != nil {
		if err := s.record(context.WithoutCancel(ctx), tr); err != nil && tr.Error == "" {
			tr.Error = err.Error()
		}
	}
	return tr
}

func (s *Service) runTenant(ctx context.Context, tenantID string, tr *TenantResult) (bool, error) {
	pol, err := s.cfg.Store.Policy(ctx, tenantID)
	if err != nil {
		return false, fmt.Errorf("read retention policy: %w", err)
	}
	holds, err := s.Holds(ctx, tenantID)
	if err != nil {
		return false, err
	}
	var users []string
	heldConvs := map[string]bool{}
	for _, h := range holds {
		if h.UserID != "" {
			users = append(users, h.UserID)
		}
		if h.ConversationID != "" {
			heldConvs[h.ConversationID] = true
		}
	}
	now := s.cfg.Clock.Now().UTC()
	cutoff := func(days int) time.Time { return now.Add(-time.Duration(days) * 24 * time.Hour) }

	steps := []func() (bool, error){
		func() (bool, error) { return s.messages(ctx, pol, heldConvs, users, now, tr) },
		func() (bool, error) { return s.media(ctx, pol, heldConvs, users, now, tr) },
		func() (bool, error) {
			if pol.ExportsDays == 0 {
				return true, nil
			}
			return s.exports(ctx, tenantID, cutoff(pol.ExportsDays), users, tr)
		},
		func() (bool, error) {
			if pol.SessionsDays == 0 {
				return true, nil
			}
			c := cutoff(pol.SessionsDays)
			return s.batches(ctx, tr, CategorySessions, func() (int, error) {
				return s.cfg.Store.DeleteSessions(ctx, tenantID, c, c.Add(-s.cfg.SessionIdle), users, s.cfg.Batch)
			})
		},
		func() (bool, error) {
			if pol.AuditRecordsDays == 0 {
				return true, nil
			}
			below, err := s.cfg.Store.AuditTrimPoint(ctx, tenantID, cutoff(pol.AuditRecordsDays))
			if err != nil || below == 0 {
				return err == nil, err
			}
			tr.AuditFloorSeq = below
			// The chain states the floor before anything below it goes, so a verification can
			// tell this deletion from someone else's.
			if _, err := s.cfg.Audit.Append(ctx, tenantID, []audit.Input{audit.TrimStatement(below, s.cfg.Clock.Now().UTC())}); err != nil {
				return false, fmt.Errorf("state the audit floor: %w", err)
			}
			return s.batches(ctx, tr, CategoryAuditRecords, func() (int, error) {
				return s.cfg.Store.TrimAudit(ctx, tenantID, below, s.cfg.Batch)
			})
		},
	}
	for _, step := range steps {
		done, err := step()
		if err != nil || !done {
			return false, err
		}
	}
	return true, nil
}

// batches calls del until it deletes fewer than a batch, checking the budget before each call.
func (s *Service) batches(ctx context.Context, tr *TenantResult, category string, del func() (int, error)) (bool, error) {
	for {
		if s.out(ctx) {
			return false, nil
		}
		n, err := del()
		tr.Deleted[category] += n
		if err != nil {
			return false, fmt.Errorf("delete expired %s: %w", category, err)
		}
		if n < s.cfg.Batch {
			return true, nil
		}
	}
}

// messages deletes, in each of the tenant's conversations, the messages past its period (the
// override's or the tenant's). A held conversation and the messages of held users are spared.
func (s *Service) messages(ctx context.Context, pol Policy, heldConvs map[string]bool, spare []string, now time.Time, tr *TenantResult) (bool, error) {
	return s.perConversation(ctx, pol, CategoryMessages, pol.MessagesDays, func(o Override) *int { return o.MessagesDays },
		heldConvs, now, tr, func(conv string, cut time.Time) (int, error) {
			return s.cfg.Store.DeleteMessages(ctx, pol.TenantID, conv, cut, spare, s.cfg.Batch)
		})
}

// media deletes, in each of the tenant's conversations, the media past its period (the
// override's or the tenant's): each object, then the documents. A held conversation and the
// media of a held uploader are spared.
func (s *Service) media(ctx context.Context, pol Policy, heldConvs map[string]bool, spare []string, now time.Time, tr *TenantResult) (bool, error) {
	if s.cfg.Media == nil {
		return true, nil
	}
	return s.perConversation(ctx, pol, CategoryMedia, pol.MediaDays, func(o Override) *int { return o.MediaDays },
		heldConvs, now, tr, func(conv string, cut time.Time) (int, error) {
			return s.deleteMedia(ctx, pol.TenantID, conv, cut, spare)
		})
}

// perConversation walks the tenant's conversations from the category's cursor (the last
// conversation done, kept in job_state), calling del in batches for each conversation not held
// whose period (the override's, else tenantDays) is set, with the cut-off time of that period.
// It stops when the budget runs out, keeping the cursor, and starts over once all are done.
func (s *Service) perConversation(ctx context.Context, pol Policy, category string, tenantDays int, override func(Override) *int,
	heldConvs map[string]bool, now time.Time, tr *TenantResult, del func(conv string, cut time.Time) (int, error)) (bool, error) {
	overrides, err := s.cfg.Store.Overrides(ctx, pol.TenantID)
	if err != nil {
		return false, fmt.Errorf("read retention overrides: %w", err)
	}
	period := map[string]int{}
	some := tenantDays > 0
	for _, o := range overrides {
		if d := override(o); d != nil {
			period[o.ConversationID] = *d
			some = some || *d > 0
		}
	}
	if !some {
		return true, nil
	}
	cursor, err := s.cfg.Store.Cursor(ctx, pol.TenantID, category)
	if err != nil {
		return false, fmt.Errorf("read retention cursor: %w", err)
	}
	for {
		convs, err := s.cfg.Store.Conversations(ctx, pol.TenantID, cursor, conversationPage)
		if err != nil {
			return false, fmt.Errorf("list conversations: %w", err)
		}
		for _, c := range convs {
			days, ok := period[c]
			if !ok {
				days = tenantDays
			}
			if days > 0 && !heldConvs[c] {
				cut := now.Add(-time.Duration(days) * 24 * time.Hour)
				done, err := s.batches(ctx, tr, category, func() (int, error) { return del(c, cut) })
				if err != nil || !done {
					if serr := s.cfg.Store.SetCursor(ctx, pol.TenantID, category, cursor); serr != nil && err == nil {
						err = fmt.Errorf("store retention cursor: %w", serr)
					}
					return false, err
				}
			}
			cursor = c
		}
		if len(convs) < conversationPage {
			cursor = ""
		}
		if err := s.cfg.Store.SetCursor(ctx, pol.TenantID, category, cursor); err != nil {
			return false, fmt.Errorf("store retention cursor: %w", err)
		}
		if cursor == "" {
			return true, nil
		}
	}
}

// deleteMedia deletes one batch of the conversation's expired media: the objects first, so a
// failure leaves the documents to find again, then the documents. It returns how many it
// deleted, which is less than a batch when none are left.
func (s *Service) deleteMedia(ctx context.Context, tenantID, conversationID string, cutoff time.Time, spare []string) (int, error) {
	items, err := s.cfg.Media.ExpiredMedia(ctx, tenantID, conversationID, cutoff, spare, s.cfg.Batch)
	if err != nil || len(items) == 0 {
		return 0, err
	}
	if s.cfg.Objects == nil {
		return 0, fmt.Errorf("delete media objects: no bucket configured")
	}
	mediaIDs := make([]string, len(items))
	for i, m := range items {
		for _, k := range []string{m.ObjectKey, m.UploadKey} {
			if k == "" {
				continue
			}
			if err := s.cfg.Objects.Delete(ctx, k); err != nil {
				return 0, fmt.Errorf("delete media object %s: %w", m.ID, err)
			}
		}
		mediaIDs[i] = m.ID
	}
	n, err := s.cfg.Media.DeleteMediaDocs(ctx, tenantID, mediaIDs)
	if err != nil {
		return n, err
	}
	if n < len(items) && len(items) == s.cfg.Batch {
		// Another run deleted some of this batch at the same time: more may remain.
		return s.cfg.Batch, nil
	}
	return n, nil
}

// exports deletes the expired exports' archives, then their records.
func (s *Service) exports(ctx context.Context, tenantID string, cutoff time.Time, spare []string, tr *TenantResult) (bool, error) {
	for {
		if s.out(ctx) {
			return false, nil
		}
		exps, err := s.cfg.Store.ExpiredExports(ctx, tenantID, cutoff, spare, s.cfg.Batch)
		if err != nil {
			return false, fmt.Errorf("find expired exports: %w", err)
		}
		for _, e := range exps {
			if e.ObjectKey != "" && s.cfg.Objects != nil {
				if err := s.cfg.Objects.Delete(ctx, e.ObjectKey); err != nil {
					return false, fmt.Errorf("delete export archive %s: %w", e.ID, err)
				}
			}
			if err := s.cfg.Store.DeleteExport(ctx, tenantID, e.ID); err != nil {
				return false, fmt.Errorf("delete export %s: %w", e.ID, err)
			}
			tr.Deleted[CategoryExports]++
		}
		if len(exps) < s.cfg.Batch {
			return true, nil
		}
	}
}

// record appends the run's audit record for the tenant. A failure is reported in the result
// only: the deletions are done.
func (s *Service) record(ctx context.Context, tr TenantResult) error {
	details := map[string]string{"finished": strconv.FormatBool(tr.Finished)}
	for k, v := range tr.Deleted {
		details[k] = strconv.Itoa(v)
	}
	if tr.AuditFloorSeq > 0 {
		details["audit_floor_seq"] = strconv.FormatInt(tr.AuditFloorSeq, 10)
	}
	outcome := audit.OutcomeSuccess
	if tr.Error != "" {
		outcome = audit.OutcomeFailure
	}
	_, err := s.cfg.Audit.Append(ctx, tr.TenantID, []audit.Input{{
		ID: s.cfg.IDs.New(ids.AuditRecord), Time: s.cfg.Clock.Now().UTC(),
		Actor:  audit.Actor{Type: audit.ActorSystem, ID: AuditActorID},
		Action: AuditAction, Resource: "tenant/" + tr.TenantID, Outcome: outcome, Details: details,
	}})
	if err != nil {
		return fmt.Errorf("append retention audit record: %w", err)
	}
	return nil
}
