module github.com/cedargate/cedargate

go 1.26
