// Package e2e is the end-to-end test of the whole platform as its clients use it. TestMain
// builds the caas command and every function, starts `caas run` as a subprocess on a free
// loopback port with embedded backends (or the real services named by MONGO_URI, REDIS_URL and
// KAFKA_BROKERS), and the tests then walk the HTTP contract with a plain net/http client: tenants,
// registration and login, user look-ups, conversations, messages, tenant isolation, bad input,
// the gateway's own answers, and the message events on Kafka. Shutting the runtime down cleanly
// is part of what is checked.
package e2e
