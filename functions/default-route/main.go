// Command default-route is the DefaultRoute function behind the HTTP API's $default route: 404
// for an unknown path, 405 with Allow for a known path and a wrong method.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"caas.dev/shared/apiroutes"
	"caas.dev/shared/edge"
)

func main() {
	lambda.Start(edge.HTTP(edge.NewLogger("DefaultRoute"), apiroutes.DefaultHandler(apiroutes.All)))
}
