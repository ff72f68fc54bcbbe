package mongo_test

import (
	"testing"

	"caas.dev/shared/gdpr/gdprtest"
	"caas.dev/shared/mongo"
)

func openGDPRStores(t *testing.T) gdprtest.Stores {
	c := openIdentityClient(t)
	return gdprtest.Stores{Consents: mongo.NewConsentStore(c), Users: c.Users(), Profiles: c.Users()}
}

func TestConsentStore(t *testing.T) { gdprtest.RunConsentStoreSuite(t, openGDPRStores) }

func TestProfileStore(t *testing.T) { gdprtest.RunProfileStoreSuite(t, openGDPRStores) }
