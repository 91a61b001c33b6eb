module github.com/cedargate/cedargate

go 1.26.0

require (
	github.com/DeRuina/timberjack v1.4.9
	github.com/cedar-policy/cedar-go v1.9.0
)

require (
	github.com/go-json-experiment/json v0.0.0-20260820222146-c27c302e5fc3 // indirect
	github.com/klauspost/compress v1.18.7 // indirect
	golang.org/x/exp v0.0.0-20220921023135-46d9e7742f1e // indirect
)
