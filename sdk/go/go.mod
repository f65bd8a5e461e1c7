module github.com/embly/embly/sdk/go

go 1.22
