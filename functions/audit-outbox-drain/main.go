// Command audit-outbox-drain is the AuditOutboxDrain function: every minute it appends the
// request records the function edge left in the audit outbox (when Kafka did not take them) to
// their tenants' chains, oldest first, within its time budget, and deletes what landed. A
// record Kafka also delivered is stored once: the chain skips an id it holds.
package main

import (
	"context"
	"encoding/json"

	"caas.dev/shared/auditlog"
	"caas.dev/shared/boot"
)

type result struct {
	Read          int `json:"read"`
	Appended      int `json:"appended"`
	Skipped       int `json:"skipped"`
	UnknownTenant int `json:"unknown_tenant"`
	Invalid       int `json:"invalid"`
	Malformed     int `json:"malformed"`
	Deleted       int `json:"deleted"`
}

func main() { boot.Start("AuditOutboxDrain", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	svc, err := env.Audit(ctx)
	if err != nil {
		return nil, err
	}
	db, err := env.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	outbox, tenants := db.AuditOutbox(), db.Tenants()
	return func(ctx context.Context, _ json.RawMessage) (result, error) {
		res, err := auditlog.Drain(ctx, outbox, svc, tenants)
		out := result{Read: res.Read, Appended: res.Appended, Skipped: res.Skipped, UnknownTenant: res.UnknownTenant,
			Invalid: res.Invalid, Malformed: res.Malformed, Deleted: res.Deleted}
		if err != nil {
			env.Log.ErrorContext(ctx, "audit outbox drain failed; the next run goes on", "read", res.Read, "error", err.Error())
			return out, err
		}
		env.Log.InfoContext(ctx, "audit outbox drained", "read", res.Read, "appended", res.Appended,
			"skipped", res.Skipped, "unknown_tenant", res.UnknownTenant, "invalid", res.Invalid,
			"malformed", res.Malformed, "deleted", res.Deleted)
		return out, nil
	}, nil
}
