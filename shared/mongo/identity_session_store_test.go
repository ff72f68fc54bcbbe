package mongo_test

import (
	"testing"

	"caas.dev/shared/identity/identitytest"
)

func TestSessionStores(t *testing.T) {
	identitytest.RunSessionSuite(t, func(t *testing.T) identitytest.Stores {
		c := openIdentityClient(t)
		return identitytest.Stores{Users: c.Users(), Sessions: c.Sessions(), Keys: c.SigningKeys()}
	})
}
