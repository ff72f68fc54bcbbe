package audit

// RecordJSON returns r in the JSON shape GET /v1/audit/events answers (with seq, previous_hash
// and hash), so a copy written elsewhere, such as a GDPR export, lets its reader recompute the
// record's hash as POST /v1/audit/verify does.
func RecordJSON(r Record) any { return toRecordJSON(r) }
