package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"caas.dev/shared/ids"
)

// Event is a request record in transit from the function edge to the chain: the JSON value of
// a message on the audit topic and of an outbox entry. Unlike a record in the chain, a user
// actor's ID is the user's id; Ingest turns it, and every user id among the resource's path
// segments, into the user's pseudonym before anything is appended.
type Event struct {
	ID        string     `json:"id"`
	TenantID  string     `json:"tenant_id"`
	Time      time.Time  `json:"time"`
	Actor     EventActor `json:"actor"`
	Action    string     `json:"action"`
	Resource  string     `json:"resource"`
	Outcome   string     `json:"outcome"`
	Status    int        `json:"status"`
	IP        string     `json:"ip"`
	UserAgent string     `json:"user_agent"`
	LatencyMS int64      `json:"latency_ms"`
	RequestID string     `json:"request_id"`
	// Pseudonymous says the producer already replaced the user ids by pseudonyms (see
	// Service.Pseudonymise): a user actor's ID is then a pseudonym, taken as it is.
	Pseudonymous bool `json:"pseudonymous,omitempty"`
}

// EventActor is who made a recorded request: Type is ActorUser (ID the user id), ActorAPIKey or
// ActorAnonymous.
type EventActor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Marshal returns the event's wire form, a JSON object.
func (e Event) Marshal() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode audit event: %w", err)
	}
	return b, nil
}

// ParseEvent decodes an event's wire form.
func ParseEvent(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("decode audit event: %w", err)
	}
	return e, nil
}

// Tenants says whether a tenant exists. Ingest drops the events of a tenant that does not: an
// unauthenticated caller can name any tenant id.
type Tenants interface {
	TenantExists(ctx context.Context, tenantID string) (bool, error)
}

// IngestResult counts what Ingest did with a batch of events.
type IngestResult struct {
	// Appended and Skipped sum the Appends: records added, and records whose id the chain held.
	Appended, Skipped int
	// UnknownTenant counts events dropped because their tenant does not exist (or is malformed).
	UnknownTenant int
	// Invalid counts events dropped because they break the record format.
	Invalid int
}

// Ingest appends request events to their tenants' chains, in the order given within each
// tenant. A user's id, as actor or as a path segment of the resource, becomes the user's
// pseudonym first. Events of tenants that do not exist and events that break the record format
// are dropped and counted (logged by the caller), so one bad event never blocks the rest. An
// error (a backend down) means some tenants' events may not be stored: the caller hands the
// same events over again, and the ids already in a chain are skipped.
func (s *Service) Ingest(ctx context.Context, tenants Tenants, events []Event) (IngestResult, error) {
	var res IngestResult
	if tenants == nil {
		return res, errors.New("ingest audit events: no tenant directory")
	}
	order := []string{}
	byTenant := map[string][]Event{}
	for _, e := range events {
		if !ids.Valid(ids.Tenant, e.TenantID) {
			res.UnknownTenant++
			continue
		}
		if _, ok := byTenant[e.TenantID]; !ok {
			order = append(order, e.TenantID)
		}
		byTenant[e.TenantID] = append(byTenant[e.TenantID], e)
	}
	for _, tenantID := range order {
		evs := byTenant[tenantID]
		ok, err := tenants.TenantExists(ctx, tenantID)
		if err != nil {
			return res, fmt.Errorf("ingest audit events: %w", err)
		}
		if !ok {
			res.UnknownTenant += len(evs)
			continue
		}
		pseudonyms := map[string]string{}
		pseudonym := func(userID string) (string, error) {
			if p, ok := pseudonyms[userID]; ok {
				return p, nil
			}
			p, err := s.Pseudonym(ctx, tenantID, userID)
			if err != nil {
				return "", fmt.Errorf("ingest audit events: %w", err)
			}
			pseudonyms[userID] = p
			return p, nil
		}
		in := make([]Input, 0, len(evs))
		for _, e := range evs {
			rec, err := e.input(pseudonym)
			if err != nil {
				return res, err
			}
			if rec.validate() != nil {
				res.Invalid++
				continue
			}
			in = append(in, rec)
		}
		for len(in) > 0 {
			n := min(len(in), MaxBatch)
			r, err := s.Append(ctx, tenantID, in[:n])
			res.Appended += r.Appended
			res.Skipped += r.Skipped
			if err != nil {
				return res, fmt.Errorf("ingest audit events: %w", err)
			}
			in = in[n:]
		}
	}
	return res, nil
}

// input turns an event into the record the chain stores, pseudonymising user ids. A resource
// that grows past MaxResourceLength with its pseudonyms is cut at a segment boundary (CutPath).
func (e Event) input(pseudonym func(string) (string, error)) (Input, error) {
	in, err := e.pseudonymised(pseudonym)
	if err != nil {
		return Input{}, err
	}
	if in.Resource != e.Resource {
		in.Resource = CutPath(in.Resource, MaxResourceLength)
	}
	return in, nil
}

// pseudonymised is input without the cut: the resource keeps its full length once its user
// ids are pseudonyms.
func (e Event) pseudonymised(pseudonym func(string) (string, error)) (Input, error) {
	in := Input{ID: e.ID, Time: e.Time, Actor: Actor{Type: e.Actor.Type, ID: e.Actor.ID},
		Action: e.Action, Resource: e.Resource, Outcome: e.Outcome, Status: e.Status, IP: e.IP,
		UserAgent: e.UserAgent, LatencyMS: e.LatencyMS, RequestID: e.RequestID}
	if in.Actor.Type == ActorUser && !e.Pseudonymous {
		if in.Actor.ID == "" {
			// validate refuses the record: a user actor without an id.
			return in, nil
		}
		p, err := pseudonym(in.Actor.ID)
		if err != nil {
			return Input{}, err
		}
		in.Actor.ID = p
	}
	if strings.Contains(in.Resource, ids.User+"_") {
		segs := strings.Split(in.Resource, "/")
		for i, seg := range segs {
			if ids.Valid(ids.User, seg) {
				p, err := pseudonym(seg)
				if err != nil {
					return Input{}, err
				}
				segs[i] = p
			}
		}
		in.Resource = strings.Join(segs, "/")
	}
	return in, nil
}

// Pseudonymise returns e with every user id replaced by the user's pseudonym (the actor and
// the resource's path segments, the resource then cut to MaxResourceLength at a "/"), marked
// Pseudonymous. The function edge calls it before the hand-off, so a record in transit (on the
// audit topic, in the outbox) names users by pseudonym only.
func (s *Service) Pseudonymise(ctx context.Context, e Event) (Event, error) {
	if e.Pseudonymous {
		return e, nil
	}
	in, err := e.input(func(userID string) (string, error) { return s.Pseudonym(ctx, e.TenantID, userID) })
	if err != nil {
		return Event{}, err
	}
	e.Actor.ID, e.Resource, e.Pseudonymous = in.Actor.ID, in.Resource, true
	return e, nil
}

// CutPath returns path cut to at most max bytes at a segment boundary, so that no id is left
// in part: the whole path when it fits, otherwise up to the last "/" that fits.
func CutPath(path string, max int) string {
	if len(path) <= max {
		return path
	}
	cut := path[:max]
	if i := strings.LastIndexByte(cut, '/'); i >= 0 {
		return cut[:i]
	}
	return ""
}
