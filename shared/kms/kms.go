// Package kms is the master key of the key service in production: a symmetric AWS KMS key,
// used through aws-sdk-go-v2 to generate and decrypt data keys under an encryption context.
package kms

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"caas.dev/shared/fault"
	"caas.dev/shared/keys"
)

// dataKeySize is the size of the data keys the key service uses: AES-256.
const dataKeySize = 32

// MasterKey is a keys.MasterKey over one AWS KMS key. It is safe for concurrent use.
type MasterKey struct {
	client *awskms.Client
	arn    string
}

var _ keys.MasterKey = (*MasterKey)(nil)

// Open resolves keyID (a key ARN, key id, alias name such as "alias/caas" or alias ARN) to its
// key ARN and returns the master key over it. The AWS configuration (region, credentials,
// retries) is loaded the default way, from the environment and shared files, then changed by
// opts; endpoint, when not empty, replaces KMS's endpoint, for an emulator.
func Open(ctx context.Context, keyID, endpoint string, opts ...func(*config.LoadOptions) error) (*MasterKey, error) {
	if keyID == "" {
		return nil, errors.New("open KMS master key: no key id")
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	client := awskms.NewFromConfig(cfg, func(o *awskms.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})

	out, err := client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return nil, fmt.Errorf("describe KMS key %s: %w", keyID, err)
	}
	md := out.KeyMetadata
	if md == nil || aws.ToString(md.Arn) == "" {
		return nil, fmt.Errorf("describe KMS key %s: no key ARN in the answer", keyID)
	}
	if md.KeyUsage != types.KeyUsageTypeEncryptDecrypt || md.KeySpec != types.KeySpecSymmetricDefault {
		return nil, fmt.Errorf("KMS key %s is %s for %s, want a symmetric key for ENCRYPT_DECRYPT",
			aws.ToString(md.Arn), md.KeySpec, md.KeyUsage)
	}
	return &MasterKey{client: client, arn: aws.ToString(md.Arn)}, nil
}

// ID returns the key's ARN.
func (m *MasterKey) ID() string { return m.arn }

// GenerateDataKey asks KMS for a new AES-256 data key under the encryption context.
func (m *MasterKey) GenerateDataKey(ctx context.Context, encryptionContext map[string]string) (plain, wrapped []byte, err error) {
	out, err := m.client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{
		KeyId:             aws.String(m.arn),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: nonEmpty(encryptionContext),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("KMS generate data key: %w", err)
	}
	if len(out.Plaintext) != dataKeySize || len(out.CiphertextBlob) == 0 {
		return nil, nil, fmt.Errorf("KMS generate data key: got a %d-byte key, want %d", len(out.Plaintext), dataKeySize)
	}
	return out.Plaintext, out.CiphertextBlob, nil
}

// Decrypt asks KMS to open a data key GenerateDataKey wrapped. It returns an error wrapping
// keys.ErrUnwrap when KMS refuses the blob (altered, made with another context, or by another
// key); other failures, such as KMS being unreachable, are returned as they are.
func (m *MasterKey) Decrypt(ctx context.Context, wrapped []byte, encryptionContext map[string]string) ([]byte, error) {
	out, err := m.client.Decrypt(ctx, &awskms.DecryptInput{
		KeyId:             aws.String(m.arn),
		CiphertextBlob:    wrapped,
		EncryptionContext: nonEmpty(encryptionContext),
	})
	var invalid *types.InvalidCiphertextException
	var incorrect *types.IncorrectKeyException
	switch {
	case errors.As(err, &invalid) || errors.As(err, &incorrect):
		return nil, fault.Wrap(keys.ErrUnwrap, fmt.Errorf("KMS decrypt: %w", err))
	case err != nil:
		return nil, fmt.Errorf("KMS decrypt: %w", err)
	}
	if len(out.Plaintext) != dataKeySize {
		return nil, fault.Wrap(keys.ErrUnwrap, fmt.Errorf("KMS decrypt: got %d bytes, want a %d-byte key",
			len(out.Plaintext), dataKeySize))
	}
	return out.Plaintext, nil
}

// nonEmpty returns nil for an empty context, so that no context and an empty one are sent
// alike: as no EncryptionContext field.
func nonEmpty(encryptionContext map[string]string) map[string]string {
	if len(encryptionContext) == 0 {
		return nil
	}
	return encryptionContext
}
