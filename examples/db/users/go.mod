module users

go 1.26

require github.com/embly/embly/sdk/go v0.0.0
