// Command slow is a test function that sleeps past any short timeout.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context) (string, error) {
		time.Sleep(30 * time.Second)
		return "late", nil
	})
}
