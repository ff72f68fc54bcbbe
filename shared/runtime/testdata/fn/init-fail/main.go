// Command init-fail is a test function that fails its init: it reports an init error to the
// Runtime API, as a runtime does when its configuration is wrong, and exits before lambda.Start.
package main

import (
	"net/http"
	"os"
	"strings"
)

func main() {
	url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
	body := strings.NewReader(`{"errorMessage":"config missing","errorType":"Runtime.ConfigError"}`)
	if resp, err := http.Post(url, "application/json", body); err == nil {
		resp.Body.Close()
	}
	os.Exit(1)
}
