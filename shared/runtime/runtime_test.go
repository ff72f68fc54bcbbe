package runtime

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMigrateRanAtStart(t *testing.T) {
	if _, ok := lastReport("Migrate"); !ok {
		t.Error("Migrate was not invoked at start")
	}
}

func TestRouteMatching(t *testing.T) {
	tests := []struct {
		method, path string
		status       int
		routeKey     string
		params       map[string]any
	}{
		{"GET", "/echo/fixed", 200, "GET /echo/fixed", nil},
		{"GET", "/echo/42", 200, "GET /echo/{id}", map[string]any{"id": "42"}},
		{"POST", "/echo/42", 200, "POST /echo/{id}", map[string]any{"id": "42"}},
		{"GET", "/proxy/a/b/c", 200, "ANY /proxy/{proxy+}", map[string]any{"proxy": "a/b/c"}},
		{"DELETE", "/proxy/x", 200, "ANY /proxy/{proxy+}", map[string]any{"proxy": "x"}},
		{"DELETE", "/echo/42", 404, "", nil},
		{"GET", "/proxy", 404, "", nil},
		{"GET", "/nowhere", 404, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := call(t, tt.method, tt.path, nil, nil)
			if tt.status == 404 {
				wantGatewayMessage(t, resp, body, 404, "Not Found")
				return
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, body %s", resp.StatusCode, body)
			}
			ev := echoEvent(t, body)
			if ev["routeKey"] != tt.routeKey {
				t.Errorf("routeKey %v, want %s", ev["routeKey"], tt.routeKey)
			}
			got, _ := ev["pathParameters"].(map[string]any)
			if len(got) != len(tt.params) {
				t.Errorf("pathParameters %v, want %v", got, tt.params)
			}
			for k, v := range tt.params {
				if got[k] != v {
					t.Errorf("pathParameters[%s] = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

func TestEventShape(t *testing.T) {
	req, _ := http.NewRequest("GET", baseURL+"/echo/7?a=1&a=2&b=x", nil)
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	req.Header.Set("Cookie", "c1=v1; c2=v2")
	req.Header.Set("User-Agent", "test-agent")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	ev := echoEvent(t, buf.Bytes())

	checks := map[string]any{
		"version": "2.0", "routeKey": "GET /echo/{id}", "rawPath": "/echo/7",
		"rawQueryString": "a=1&a=2&b=x", "isBase64Encoded": false,
	}
	for k, want := range checks {
		if ev[k] != want {
			t.Errorf("%s = %v, want %v", k, ev[k], want)
		}
	}
	if _, ok := ev["body"]; ok {
		t.Error("a request without body has a body field")
	}
	cookies, _ := ev["cookies"].([]any)
	if len(cookies) != 2 || cookies[0] != "c1=v1" || cookies[1] != "c2=v2" {
		t.Errorf("cookies %v", ev["cookies"])
	}
	headers := ev["headers"].(map[string]any)
	if headers["x-multi"] != "one,two" || headers["user-agent"] != "test-agent" {
		t.Errorf("headers %v", headers)
	}
	if _, ok := headers["cookie"]; ok {
		t.Error("cookie header kept in headers")
	}
	q := ev["queryStringParameters"].(map[string]any)
	if q["a"] != "1,2" || q["b"] != "x" {
		t.Errorf("queryStringParameters %v", q)
	}
	rc := ev["requestContext"].(map[string]any)
	if rc["stage"] != "$default" || rc["routeKey"] != "GET /echo/{id}" || rc["accountId"] != "000000000000" || rc["apiId"] != "api" {
		t.Errorf("requestContext %v", rc)
	}
	if rc["requestId"] != resp.Header.Get("Apigw-Requestid") || rc["requestId"] == "" {
		t.Errorf("requestId %v, header %q", rc["requestId"], resp.Header.Get("Apigw-Requestid"))
	}
	if n, _ := rc["timeEpoch"].(float64); n < float64(time.Now().Add(-time.Minute).UnixMilli()) {
		t.Errorf("timeEpoch %v", rc["timeEpoch"])
	}
	if _, err := time.Parse(clfTimeLayout, rc["time"].(string)); err != nil {
		t.Errorf("time %v: %v", rc["time"], err)
	}
	h := rc["http"].(map[string]any)
	if h["method"] != "GET" || h["path"] != "/echo/7" || h["protocol"] != "HTTP/1.1" || h["sourceIp"] != "127.0.0.1" || h["userAgent"] != "test-agent" {
		t.Errorf("requestContext.http %v", h)
	}
}

const clfTimeLayout = "02/Jan/2006:15:04:05 -0700"

func TestRequestBodies(t *testing.T) {
	_, body := call(t, "POST", "/echo/1", []byte(`{"x":1}`), map[string]string{"Content-Type": "application/json"})
	ev := echoEvent(t, body)
	if ev["body"] != `{"x":1}` || ev["isBase64Encoded"] != false {
		t.Errorf("json body %v base64 %v", ev["body"], ev["isBase64Encoded"])
	}

	raw := []byte{0, 1, 2, 250}
	_, body = call(t, "POST", "/echo/1", raw, map[string]string{"Content-Type": "application/octet-stream"})
	ev = echoEvent(t, body)
	if ev["body"] != base64.StdEncoding.EncodeToString(raw) || ev["isBase64Encoded"] != true {
		t.Errorf("binary body %v base64 %v", ev["body"], ev["isBase64Encoded"])
	}

	resp, body := call(t, "POST", "/echo/1", bytes.Repeat([]byte("a"), 10<<20+1), map[string]string{"Content-Type": "text/plain"})
	wantGatewayMessage(t, resp, body, 413, "Request Entity Too Large")
}

func TestAuthorizer(t *testing.T) {
	resp, body := call(t, "POST", "/private", nil, nil)
	wantGatewayMessage(t, resp, body, 401, "Unauthorized")

	resp, body = call(t, "POST", "/private", nil, map[string]string{"Authorization": "Bearer bad"})
	wantGatewayMessage(t, resp, body, 403, "Forbidden")

	resp, body = call(t, "POST", "/private", nil, map[string]string{"Authorization": "Bearer boom"})
	wantGatewayMessage(t, resp, body, 500, "Internal Server Error")

	// An authorizer failing with exactly "Unauthorized" asks for API Gateway's 401.
	resp, body = call(t, "POST", "/private", nil, map[string]string{"Authorization": "Bearer unauthorized"})
	wantGatewayMessage(t, resp, body, 401, "Unauthorized")

	resp, body = call(t, "POST", "/private", nil, map[string]string{"Authorization": "Bearer good"})
	if resp.StatusCode != 200 {
		t.Fatalf("allowed request: status %d body %s", resp.StatusCode, body)
	}
	rc := echoEvent(t, body)["requestContext"].(map[string]any)
	lambda, _ := rc["authorizer"].(map[string]any)["lambda"].(map[string]any)
	if lambda["tenant_id"] != "ten_1" || lambda["user_id"] != "usr_1" {
		t.Errorf("authorizer context %v", rc["authorizer"])
	}
	if lambda["route_arn"] != "arn:aws:execute-api:us-east-1:000000000000:api/$default/POST/private" {
		t.Errorf("routeArn seen by the authorizer: %v", lambda["route_arn"])
	}

	// Open routes never call the authorizer.
	resp, _ = call(t, "GET", "/echo/1", nil, map[string]string{"Authorization": "Bearer bad"})
	if resp.StatusCode != 200 {
		t.Errorf("open route with a bad token: %d", resp.StatusCode)
	}
}

func TestCORS(t *testing.T) {
	resp, body := call(t, "OPTIONS", "/echo/1", nil, map[string]string{
		"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
	})
	if resp.StatusCode != 204 || len(body) != 0 {
		t.Fatalf("preflight: %d %s", resp.StatusCode, body)
	}
	want := map[string]string{
		"Access-Control-Allow-Origin":  "https://app.example",
		"Access-Control-Allow-Methods": "GET,POST",
		"Access-Control-Allow-Headers": "authorization,content-type",
		"Access-Control-Max-Age":       "600",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("preflight %s = %q, want %q", k, got, v)
		}
	}

	resp, _ = call(t, "OPTIONS", "/echo/1", nil, map[string]string{
		"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
	})
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign preflight: %d, allow-origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}

	resp, _ = call(t, "GET", "/echo/1", nil, map[string]string{"Origin": "https://app.example"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || resp.Header.Get("Access-Control-Expose-Headers") != "retry-after" {
		t.Errorf("simple request CORS headers: %v", resp.Header)
	}
	resp, _ = call(t, "GET", "/echo/1", nil, map[string]string{"Origin": "https://evil.example"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("foreign origin got Access-Control-Allow-Origin")
	}
}

func TestTimeout(t *testing.T) {
	start := time.Now()
	resp, body := call(t, "GET", "/slow", nil, nil)
	wantGatewayMessage(t, resp, body, 503, "Service Unavailable")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout answered after %v, the function's Timeout is 1 s", d)
	}
	if r, _ := lastReport("Slow"); r.Status != "timeout" {
		t.Errorf("report status %q", r.Status)
	}
	if n := host.Instances("Slow"); n != 0 {
		t.Errorf("%d Slow instances left after the timeout", n)
	}
}

func TestCrashIsReplaced(t *testing.T) {
	resp, body := call(t, "GET", "/crash?crash=1", nil, nil)
	wantGatewayMessage(t, resp, body, 500, "Internal Server Error")
	resp, body = call(t, "GET", "/crash", nil, nil)
	if resp.StatusCode != 200 || string(body) != `{"alive":true}` {
		t.Fatalf("after a crash: %d %s", resp.StatusCode, body)
	}
	if r, _ := lastReport("Crash"); r.InitDuration == 0 {
		t.Error("the replacement instance reported no Init Duration")
	}
}

func TestInitFailure(t *testing.T) {
	for range 2 {
		resp, body := call(t, "GET", "/init-fail", nil, nil)
		wantGatewayMessage(t, resp, body, 500, "Internal Server Error")
	}
}

func TestFunctionError(t *testing.T) {
	resp, body := call(t, "GET", "/echo/1?mode=error", nil, nil)
	wantGatewayMessage(t, resp, body, 500, "Internal Server Error")
}

func TestWarmReuse(t *testing.T) {
	call(t, "GET", "/echo/warm", nil, nil)
	resp, _ := call(t, "GET", "/echo/warm", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	r, ok := lastReport("Echo")
	if !ok || r.InitDuration != 0 {
		t.Errorf("second call: %+v, want a warm start", r)
	}
	if r.MaxMemoryMB <= 0 || r.MemoryMB != 128 || r.RequestID == "" {
		t.Errorf("report figures %+v", r)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() {
			resp, _ := call(t, "GET", "/limited?sleep=300ms", nil, nil)
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("request %d: status %d", i, s)
		}
	}
	if got := host.Instances("Limited"); got != 3 {
		t.Errorf("%d Limited instances, want the limit of 3", got)
	}
}

func TestResponseMapping(t *testing.T) {
	resp, body := call(t, "GET", "/echo/1?mode=cookies", nil, nil)
	if resp.StatusCode != 201 || string(body) != "cookies" || resp.Header.Get("X-Custom") != "yes" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("structured response: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if c := resp.Header.Values("Set-Cookie"); len(c) != 2 || c[0] != "a=1; Path=/" || c[1] != "b=2; HttpOnly" {
		t.Errorf("Set-Cookie %v", c)
	}

	resp, body = call(t, "GET", "/echo/1?mode=base64", nil, nil)
	if !bytes.Equal(body, []byte{0, 1, 2, 255}) || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("base64 response: %v %v", body, resp.Header)
	}

	resp, body = call(t, "GET", "/echo/1?mode=bare", nil, nil)
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"bare":true}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("bare response: %d %s %v", resp.StatusCode, body, resp.Header)
	}
}
