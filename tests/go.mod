module caas.dev/tests

go 1.26.0

require caas.dev/shared v0.0.0

require (
	github.com/FerretDB/FerretDB v1.24.2 // indirect
	github.com/aws/aws-lambda-go v1.55.1 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	github.com/segmentio/kafka-go v0.4.51
	go.mongodb.org/mongo-driver v1.17.10 // indirect
)

replace caas.dev/shared => ../shared
