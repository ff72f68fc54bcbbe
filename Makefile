# caas - build, run and test. Every target works on a fresh machine with only Go installed,
# except test-real (it installs and starts real services) and lint (it installs cfn-lint).

GO        ?= go
PKGS      := ./shared/... ./functions/... ./tests/...
# sam build sets ARTIFACTS_DIR; the functions run on arm64 Lambda unless GOARCH says otherwise.
GOARCH    ?= arm64
LAMBDA_GOFLAGS := -trimpath -tags lambda.norpc -ldflags='-s -w'

define lambda_build
	GOOS=linux GOARCH=$(GOARCH) CGO_ENABLED=0 $(GO) build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(1)
endef

.PHONY: build run test test-real bench lint sam-validate clean

## build: the caas command and every function's bootstrap for this machine
build:
	$(GO) build -o bin/caas ./shared/cmd/caas
	CGO_ENABLED=0 $(GO) build -tags lambda.norpc -o bin/functions/ ./functions/...

## run: the whole platform with embedded backends on 127.0.0.1:3000 (CAAS_HTTP_ADDR);
## caas run builds the functions itself, for this machine
run:
	$(GO) build -o bin/caas ./shared/cmd/caas
	./bin/caas run

## test: unit, conformance (embedded backends) and end-to-end tests
test:
	$(GO) test -count=1 -timeout 20m $(PKGS)

## test-real: the same suites against real services started on loopback
test-real:
	bash tests/scripts/test-real.sh

## bench: runtime overhead, cold start and SendMessage throughput
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3s ./shared/... ./tests/...

## lint: go vet and the SAM template checked by cfn-lint
lint:
	$(GO) vet $(PKGS)
	bash tests/scripts/cfn-lint.sh template.yaml

sam-validate: lint

clean:
	rm -rf bin .aws-sam

# Targets for `sam build` (Metadata: BuildMethod: makefile): one per function.
build-Authorizer:
	$(call lambda_build,authorizer)

build-Migrate:
	$(call lambda_build,migrate)

build-CreateTenant:
	$(call lambda_build,create-tenant)

build-Register:
	$(call lambda_build,register)

build-Login:
	$(call lambda_build,login)

build-GetMe:
	$(call lambda_build,get-me)

build-GetUser:
	$(call lambda_build,get-user)

build-FindUser:
	$(call lambda_build,find-user)

build-SetUserRole:
	$(call lambda_build,set-user-role)

build-CreateKey:
	$(call lambda_build,create-key)

build-ListKeys:
	$(call lambda_build,list-keys)

build-GetKey:
	$(call lambda_build,get-key)

build-UpdateKey:
	$(call lambda_build,update-key)

build-RotateKey:
	$(call lambda_build,rotate-key)

build-Encrypt:
	$(call lambda_build,encrypt)

build-Decrypt:
	$(call lambda_build,decrypt)

build-Rewrap:
	$(call lambda_build,rewrap)

build-CreateConversation:
	$(call lambda_build,create-conversation)

build-ListConversations:
	$(call lambda_build,list-conversations)

build-SendMessage:
	$(call lambda_build,send-message)

build-ListMessages:
	$(call lambda_build,list-messages)

build-Health:
	$(call lambda_build,health)

build-Ready:
	$(call lambda_build,ready)

build-DefaultRoute:
	$(call lambda_build,default-route)

build-PublishPending:
	$(call lambda_build,publish-pending)

build-ReencryptMessages:
	$(call lambda_build,reencrypt-messages)

build-ReencryptSecrets:
	$(call lambda_build,reencrypt-secrets)

build-WsAuthorizer:
	$(call lambda_build,ws-authorizer)

build-WsConnect:
	$(call lambda_build,ws-connect)

build-WsDisconnect:
	$(call lambda_build,ws-disconnect)

build-WsDefault:
	$(call lambda_build,ws-default)

build-MessageFanout:
	$(call lambda_build,message-fanout)

build-GetPresence:
	$(call lambda_build,get-presence)

build-MarkRead:
	$(call lambda_build,mark-read)

build-MfaEnroll:
	$(call lambda_build,mfa-enroll)

build-MfaConfirm:
	$(call lambda_build,mfa-confirm)

build-MfaVerify:
	$(call lambda_build,mfa-verify)

build-MfaDisable:
	$(call lambda_build,mfa-disable)

build-RefreshToken:
	$(call lambda_build,refresh-token)

build-Logout:
	$(call lambda_build,logout)

build-LogoutAll:
	$(call lambda_build,logout-all)

build-ListSessions:
	$(call lambda_build,list-sessions)

build-EndSession:
	$(call lambda_build,end-session)

build-Jwks:
	$(call lambda_build,jwks)

build-OpenIdConfiguration:
	$(call lambda_build,open-id-configuration)

build-RotateSigningKey:
	$(call lambda_build,rotate-signing-key)

build-RotateKeys:
	$(call lambda_build,rotate-keys)

build-GdprConsent:
	$(call lambda_build,gdpr-consent)

build-ListConsents:
	$(call lambda_build,list-consents)

build-GdprRectify:
	$(call lambda_build,gdpr-rectify)

build-GdprErase:
	$(call lambda_build,gdpr-erase)

build-GetErasure:
	$(call lambda_build,get-erasure)

build-GdprExport:
	$(call lambda_build,gdpr-export)

build-GetExport:
	$(call lambda_build,get-export)

build-GdprExportWorker:
	$(call lambda_build,gdpr-export-worker)

build-AuditAppend:
	$(call lambda_build,audit-append)

build-AuditOutboxDrain:
	$(call lambda_build,audit-outbox-drain)

build-AuditQuery:
	$(call lambda_build,audit-query)

build-Retention:
	$(call lambda_build,retention)

build-GetRetentionPolicy:
	$(call lambda_build,get-retention-policy)

build-PutRetentionPolicy:
	$(call lambda_build,put-retention-policy)

build-SetConversationRetention:
	$(call lambda_build,set-conversation-retention)

build-LegalHolds:
	$(call lambda_build,legal-holds)

build-AuditVerify:
	$(call lambda_build,audit-verify)

build-UploadMedia:
	$(call lambda_build,upload-media)

build-CompleteUpload:
	$(call lambda_build,complete-upload)

build-GetMedia:
	$(call lambda_build,get-media)

