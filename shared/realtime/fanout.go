package realtime

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/chat"
	"caas.dev/shared/edge"
)

// FanoutResult counts what one batch of message events did, for the function's log and tests.
type FanoutResult struct {
	Records int // records in the batch
	Skipped int // records not delivered: malformed, another event type, message or conversation gone
	Sent    int // pushes delivered
	Gone    int // connections found gone and forgotten
	Failed  int // pushes given up (throttled past the retries, payload refused, endpoint down)
}

// Fanout delivers a batch of the messages topic (chat.MessageCreated records, with no body) to
// every live connection of every member of each message's conversation, the sender's other
// devices included. Records are handled in order within each partition, so a conversation's
// messages are pushed in seq order.
//
// It returns an error only when a backend it reads (the registry, the chat store) fails: the
// trigger then delivers the whole batch again, and pushes made before the failure are made
// twice. Clients therefore de-duplicate messages by id. A record that cannot be delivered
// for good (malformed, unknown message, conversation gone) is logged and skipped, so it never
// blocks its partition.
func (s *Service) Fanout(ctx context.Context, ev events.KafkaEvent) (FanoutResult, error) {
	var res FanoutResult
	log := s.baseLog()
	ctx = edge.WithLogger(ctx, log)

	// Members of a conversation are read once per batch: a busy conversation has many records
	// in one batch.
	members := make(map[string][]string)
	for _, key := range slices.Sorted(maps.Keys(ev.Records)) {
		for _, rec := range ev.Records[key] {
			res.Records++
			rlog := log.With("topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset)
			e, ok := decodeRecord(rec)
			if !ok {
				res.Skipped++
				rlog.WarnContext(ctx, "skipping a record that is not a message event")
				continue
			}
			d, err := s.deliverMessage(edge.WithLogger(ctx, rlog.With("tenant_id", e.TenantID)), e, members)
			if err != nil {
				return res, fmt.Errorf("deliver message %s at %s[%d]@%d: %w", e.MessageID, rec.Topic, rec.Partition, rec.Offset, err)
			}
			if d == nil {
				res.Skipped++
				continue
			}
			res.Sent += int(d.sent.Load())
			res.Gone += int(d.gone.Load())
			res.Failed += int(d.failed.Load())
		}
	}
	return res, nil
}

// decodeRecord returns the message event a record carries; ok is false for anything else.
func decodeRecord(rec events.KafkaRecord) (chat.MessageCreated, bool) {
	raw, err := base64.StdEncoding.DecodeString(rec.Value)
	if err != nil {
		return chat.MessageCreated{}, false
	}
	var e chat.MessageCreated
	if err := json.Unmarshal(raw, &e); err != nil {
		return chat.MessageCreated{}, false
	}
	if e.Type != chat.EventMessageCreated || e.TenantID == "" || e.ConversationID == "" || e.MessageID == "" {
		return chat.MessageCreated{}, false
	}
	return e, true
}

// deliverMessage pushes one message to its conversation's members. It returns a nil delivery
// for a record to skip.
func (s *Service) deliverMessage(ctx context.Context, e chat.MessageCreated, members map[string][]string) (*delivery, error) {
	log := s.logger(ctx)
	m, err := s.Chat.Message(ctx, e.TenantID, e.MessageID)
	if isNotFound(err) {
		log.InfoContext(ctx, "skipping an event whose message no longer exists", "message_id", e.MessageID)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	if m.ConversationID != e.ConversationID {
		// The event does not describe the stored message: trust neither.
		log.WarnContext(ctx, "skipping an event that does not match its message", "message_id", e.MessageID)
		return nil, nil
	}

	key := e.TenantID + "/" + e.ConversationID
	users, ok := members[key]
	if !ok {
		users, err = s.Chat.Members(ctx, e.TenantID, e.ConversationID)
		if isNotFound(err) {
			log.InfoContext(ctx, "skipping a message of a conversation that no longer exists",
				"conversation_id", e.ConversationID)
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read members: %w", err)
		}
		members[key] = users
	}

	d, err := s.pushToUsers(ctx, e.TenantID, users, messageEvent{Type: TypeMessageCreated, Message: ToMessageJSON(m)})
	if err != nil {
		return nil, err
	}
	log.DebugContext(ctx, "message delivered", "message_id", m.ID, "sent", d.sent.Load(),
		"gone", d.gone.Load(), "failed", d.failed.Load())
	return d, nil
}

// baseLog returns the service's logger, or the default one.
func (s *Service) baseLog() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
