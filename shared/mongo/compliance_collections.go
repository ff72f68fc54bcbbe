package mongo

// Collections of the compliance database (caas_compliance) that hold GDPR exports and
// erasures, retention settings and the audit outbox. Each is owned by one store; other stores
// name it through these constants only.
const (
	// AuditOutboxCollection holds audit records a function could not hand to Kafka, keyed by
	// record id, until AuditOutboxDrain appends them to their chain.
	AuditOutboxCollection = "audit_outbox"
	// ExportsCollection holds GDPR export jobs: _id (exp_…), tenant_id, user_id, status,
	// object_key, created_at, completed_at, expires_at.
	ExportsCollection = "gdpr_exports"
	// ErasuresCollection holds erasure receipts.
	ErasuresCollection = "gdpr_erasures"
	// RetentionPoliciesCollection holds one retention policy per tenant and the overrides of
	// single conversations.
	RetentionPoliciesCollection = "retention_policies"
	// LegalHoldsCollection holds legal holds on users and conversations.
	LegalHoldsCollection = "legal_holds"
)

// ExportObjectPrefix starts the object key of every export archive in the bucket:
// ExportObjectPrefix + tenant + "/" + user + "/" + export id + ".zip", so one user's archives
// can be listed and deleted by prefix.
const ExportObjectPrefix = "gdpr/exports/"
