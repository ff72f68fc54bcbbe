package identity

import (
	"context"
	"net/http"

	"caas.dev/shared/edge"
)

type mfaEnrollResponse struct {
	Secret     string `json:"secret"`
	OtpauthURI string `json:"otpauth_uri"`
	QRPNG      string `json:"qr_png_base64"`
}

// MfaEnrollHandler serves POST /v1/auth/mfa/enroll: a new TOTP secret for the caller, pending
// until MfaConfirm; 409 mfa_already_enabled when MFA is on.
func MfaEnrollHandler(svc *Service, issuer string) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		id, err := edge.RequireIdentity(ctx)
		if err != nil {
			return nil, err
		}
		e, err := svc.EnrollMFA(ctx, id.TenantID, id.UserID, issuer)
		if err != nil {
			return nil, err
		}
		return noStore(edge.JSON(http.StatusOK, mfaEnrollResponse{Secret: e.Secret, OtpauthURI: e.OtpauthURI, QRPNG: e.QRPNG}))
	}
}

type mfaCodeRequest struct {
	Code         *string `json:"code"`
	RecoveryCode *string `json:"recovery_code"`
}

func (r mfaCodeRequest) codes() (code, recovery string, err error) {
	if r.Code == nil && r.RecoveryCode == nil {
		return "", "", edge.Missing("code")
	}
	if r.Code != nil {
		code = *r.Code
	}
	if r.RecoveryCode != nil {
		recovery = *r.RecoveryCode
	}
	return code, recovery, nil
}

type mfaConfirmResponse struct {
	Enabled       bool     `json:"mfa_enabled"`
	RecoveryCodes []string `json:"recovery_codes"`
}

// MfaConfirmHandler serves POST /v1/auth/mfa/confirm {"code"}: a code of the pending secret
// turns MFA on; the answer shows the 10 recovery codes, this once.
func MfaConfirmHandler(svc *Service) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		id, err := edge.RequireIdentity(ctx)
		if err != nil {
			return nil, err
		}
		var body struct {
			Code *string `json:"code"`
		}
		if err := req.Decode(&body); err != nil {
			return nil, err
		}
		if body.Code == nil {
			return nil, edge.Missing("code")
		}
		codes, err := svc.ConfirmMFA(ctx, id.TenantID, id.UserID, *body.Code)
		if err != nil {
			return nil, err
		}
		return noStore(edge.JSON(http.StatusOK, mfaConfirmResponse{Enabled: true, RecoveryCodes: codes}))
	}
}

// MfaDisableHandler serves POST /v1/auth/mfa/disable {"code"} or {"recovery_code"}: 204.
func MfaDisableHandler(svc *Service) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		id, err := edge.RequireIdentity(ctx)
		if err != nil {
			return nil, err
		}
		var body mfaCodeRequest
		if err := req.Decode(&body); err != nil {
			return nil, err
		}
		code, recovery, err := body.codes()
		if err != nil {
			return nil, err
		}
		if err := svc.DisableMFA(ctx, id.TenantID, id.UserID, code, recovery); err != nil {
			return nil, err
		}
		return &edge.Response{StatusCode: http.StatusNoContent, Headers: map[string]string{}}, nil
	}
}

// MfaVerifyHandler serves POST /v1/auth/mfa/verify {"mfa_token","code"} or
// {"mfa_token","recovery_code"}: the second step of a login; 200 with the tokens as Login.
func MfaVerifyHandler(svc *Service) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		var body struct {
			MFAToken     *string `json:"mfa_token"`
			Code         *string `json:"code"`
			RecoveryCode *string `json:"recovery_code"`
		}
		if err := req.Decode(&body); err != nil {
			return nil, err
		}
		if body.MFAToken == nil {
			return nil, edge.Missing("mfa_token")
		}
		code, recovery, err := mfaCodeRequest{Code: body.Code, RecoveryCode: body.RecoveryCode}.codes()
		if err != nil {
			return nil, err
		}
		t, err := svc.VerifyMFA(ctx, VerifyMFAInput{MFAToken: *body.MFAToken, Code: code, RecoveryCode: recovery,
			IP: req.SourceIP(), UserAgent: req.UserAgent()})
		if err != nil {
			return nil, err
		}
		return tokensResponse(t)
	}
}
