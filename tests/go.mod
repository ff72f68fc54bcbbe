module caas.dev/tests

go 1.26

require caas.dev/shared v0.0.0

replace caas.dev/shared => ../shared
