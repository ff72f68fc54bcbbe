package boot

import (
	"context"
	"errors"
	"fmt"

	"caas.dev/shared/keys"
	"caas.dev/shared/kms"
)

// Variables that choose the master key of the key service.
const (
	// KMSKeyIDEnv names an AWS KMS key (ARN, id or alias): the production master key.
	KMSKeyIDEnv = "CAAS_KMS_KEY_ID"
	// KMSEndpointEnv, when set, replaces KMS's endpoint (an emulator, LocalStack).
	KMSEndpointEnv = "CAAS_KMS_ENDPOINT"
	// MasterKeyFileEnv names a local key file, for development; `caas run` sets it when no KMS
	// key is configured.
	MasterKeyFileEnv = "CAAS_MASTER_KEY_FILE"
)

// MasterKey opens the master key: the KMS key of CAAS_KMS_KEY_ID when set, else the key file
// of CAAS_MASTER_KEY_FILE. One of them is required: there is no fallback key.
func (e *Env) MasterKey(ctx context.Context) (keys.MasterKey, error) {
	if id := e.getenv(KMSKeyIDEnv); id != "" {
		m, err := kms.Open(ctx, id, e.getenv(KMSEndpointEnv))
		if err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
		return m, nil
	}
	if path := e.getenv(MasterKeyFileEnv); path != "" {
		m, err := keys.OpenFileMaster(path)
		if err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
		return m, nil
	}
	return nil, errors.New(KMSKeyIDEnv + " or " + MasterKeyFileEnv + " is required")
}

// Keys returns the key service on the Mongo client's key store and the master key. A
// function opens it once per cold start; its caches then live as long as the instance.
func (e *Env) Keys(ctx context.Context) (*keys.Service, error) {
	if e.keys != nil {
		return e.keys, nil
	}
	master, err := e.MasterKey(ctx)
	if err != nil {
		return nil, err
	}
	db, err := e.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	svc, err := keys.New(keys.Config{Store: db.Keys(), Master: master})
	if err != nil {
		return nil, err
	}
	e.keys = svc
	return svc, nil
}

// hasMasterKey reports whether the environment names a master key, so Keys can open.
func (e *Env) hasMasterKey() bool {
	return e.getenv(KMSKeyIDEnv) != "" || e.getenv(MasterKeyFileEnv) != ""
}
