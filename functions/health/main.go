// Command health is the Health function: GET /health answers 200 without touching a backend.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"caas.dev/shared/edge"
	"caas.dev/shared/readiness"
)

func main() {
	lambda.Start(edge.HTTP(edge.NewLogger("Health"), readiness.HealthHandler()))
}
