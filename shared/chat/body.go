package chat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"caas.dev/shared/edge"
	"caas.dev/shared/keys"
)

// bodyMACData is what a body's MAC covers: the conversation and client message id with the
// body, so equal texts in different messages have different MACs. The sender is bound by the
// key (the sender's own), the tenant by the key service.
func bodyMACData(conversationID, clientMsgID, body string) []byte {
	return []byte("message\x00" + conversationID + "\x00" + clientMsgID + "\x00" + body)
}

// errNoCipher is the internal error of a body operation in a service built without the key
// service: a wiring mistake, never a client's.
var errNoCipher = errors.New("chat: message bodies need the key service (Deps.Cipher)")

// sealer is the BodySealer of one message being sent.
type sealer struct {
	cipher   Cipher
	tenantID string
	senderID string
	convID   string
	body     []byte
	macData  []byte
	mac      string
}

// NewBodySealer returns the BodySealer of m's body (m.Body, the plaintext), fingerprinted
// and sealed with c under the key of m's sender, for Store.AppendMessage.
func NewBodySealer(ctx context.Context, c Cipher, m Message) (BodySealer, error) {
	if c == nil {
		return nil, errNoCipher
	}
	b := &sealer{
		cipher: c, tenantID: m.TenantID, senderID: m.SenderID, convID: m.ConversationID,
		body: []byte(m.Body), macData: bodyMACData(m.ConversationID, m.ClientMsgID, m.Body),
	}
	mac, err := c.MACForUser(ctx, m.TenantID, m.SenderID, b.macData)
	if err != nil {
		return nil, fmt.Errorf("fingerprint message body: %w", err)
	}
	b.mac = mac
	return b, nil
}

// MAC implements BodySealer.
func (b *sealer) MAC() string { return b.mac }

// Seal implements BodySealer: the body under the sender's key's primary version, bound to the
// conversation and messageID.
func (b *sealer) Seal(ctx context.Context, messageID string) (string, error) {
	ct, err := b.cipher.EncryptForUser(ctx, b.tenantID, b.senderID, b.body, BodyContext(b.convID, messageID))
	if err != nil {
		return "", fmt.Errorf("encrypt message body: %w", err)
	}
	return ct, nil
}

// SameBody implements BodySealer.
func (b *sealer) SameBody(ctx context.Context, storedMAC string) (bool, error) {
	ok, err := b.cipher.VerifyMAC(ctx, b.tenantID, storedMAC, b.macData)
	if errors.Is(err, keys.ErrInvalidCiphertext) {
		// Not a MAC this service made (a record from before bodies were sealed): it cannot
		// be shown to match, and a mismatch is the safe answer.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("verify message body: %w", err)
	}
	return ok, nil
}

// open fills in m.Body from its ciphertext, or marks it Erased when the sender's key was
// destroyed. Any other failure is an internal error; it never carries the body.
func (s *Service) open(ctx context.Context, m *Message) error {
	if s.cipher == nil {
		return errNoCipher
	}
	if m.BodyCiphertext == "" {
		// TODO: messages stored before bodies were sealed (a plaintext "body" field and no
		// "body_ct") fail here as internal errors, failing their whole page; nothing seals
		// them, so such a database must be emptied.
		return fmt.Errorf("message %s has no body ciphertext", m.ID)
	}
	pt, err := s.cipher.Decrypt(ctx, m.TenantID, m.BodyCiphertext, BodyContext(m.ConversationID, m.ID))
	if errors.Is(err, keys.ErrKeyShredded) {
		m.Body, m.Erased = "", true
		return nil
	}
	if err != nil {
		return fmt.Errorf("decrypt body of message %s: %w", m.ID, err)
	}
	m.Body, m.Erased = string(pt), false
	return nil
}

// Re-encryption.
const (
	// ReencryptBatch is how many messages the re-encryption job reads at a time.
	ReencryptBatch = 100
	// reencryptJob names the re-encryption job's cursor.
	reencryptJob = "reencrypt-messages"
)

// ReencryptResult counts what one run of ReencryptMessages did.
type ReencryptResult struct {
	// Scanned messages were read; Rewrapped were moved to their key's primary version; Erased
	// had a destroyed key and were left as they are; Failed could not be rewrapped for another
	// reason (logged with their ids) and were left as they are.
	Scanned, Rewrapped, Erased, Failed int
	// Finished is true when the run reached the last message: the next run starts over.
	Finished bool
}

// ReencryptMessages moves stored message bodies to the primary version of their sender's key,
// walking every tenant's messages by id in batches of batch from where the previous run
// stopped, until it reaches the end (the next run then starts over), has done maxBatches
// batches (0: no such bound) or ctx's deadline comes near. A body is replaced only while the
// message still holds the ciphertext that was read, so a concurrent change is not
// overwritten. The plaintext never leaves the key service.
func (s *Service) ReencryptMessages(ctx context.Context, batch, maxBatches int) (ReencryptResult, error) {
	var res ReencryptResult
	if batch < 1 {
		return res, fmt.Errorf("reencrypt messages: batch %d, want at least 1", batch)
	}
	if s.cipher == nil {
		return res, errNoCipher
	}
	cursor, err := s.store.JobCursor(ctx, reencryptJob)
	if err != nil {
		return res, fmt.Errorf("read re-encryption cursor: %w", err)
	}
	for done := 0; maxBatches <= 0 || done < maxBatches; done++ {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < sweepMargin {
			return res, nil
		}
		msgs, err := s.store.MessagesAfter(ctx, cursor, batch)
		if err != nil {
			return res, fmt.Errorf("read messages to re-encrypt: %w", err)
		}
		for _, m := range msgs {
			res.Scanned++
			s.reencrypt(ctx, m, &res)
		}
		if len(msgs) < batch {
			cursor, res.Finished = "", true
		} else {
			cursor = msgs[len(msgs)-1].ID
		}
		if err := s.store.SetJobCursor(ctx, reencryptJob, cursor); err != nil {
			return res, fmt.Errorf("store re-encryption cursor: %w", err)
		}
		if res.Finished {
			return res, nil
		}
	}
	return res, nil
}

// reencrypt rewraps one message's body and counts the outcome.
func (s *Service) reencrypt(ctx context.Context, m Message, res *ReencryptResult) {
	if m.BodyCiphertext == "" {
		res.Failed++
		edge.Logger(ctx).WarnContext(ctx, "message has no body ciphertext", "message_id", m.ID)
		return
	}
	ct, changed, err := s.cipher.Rewrap(ctx, m.TenantID, m.BodyCiphertext, BodyContext(m.ConversationID, m.ID))
	if errors.Is(err, keys.ErrKeyShredded) {
		res.Erased++
		return
	}
	if err != nil {
		res.Failed++
		edge.Logger(ctx).WarnContext(ctx, "message body not re-encrypted",
			"message_id", m.ID, "tenant_id", m.TenantID, "error", err.Error())
		return
	}
	if !changed {
		return
	}
	swapped, err := s.store.SwapBodyCiphertext(ctx, m.TenantID, m.ID, m.BodyCiphertext, ct)
	if err != nil {
		res.Failed++
		edge.Logger(ctx).WarnContext(ctx, "re-encrypted message body not stored",
			"message_id", m.ID, "tenant_id", m.TenantID, "error", err.Error())
		return
	}
	if swapped {
		res.Rewrapped++
	}
}
