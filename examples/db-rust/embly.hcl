# db-rust is examples/db and examples/kv in one Rust function: the same
# users API over a vinyl (record) database and the same kv API, with records
# as JSON through serde_json from Debian's packaged crates.
#
#   curl -X POST -d '{"username":"ada","email":"ada@example.com","password":"s3cret"}' localhost:8080/api/users   # 201
#   curl localhost:8080/api/users/1                        # 200, or 404
#   curl 'localhost:8080/api/users?email=ada@example.com'  # 200, a JSON array (an index query)
#   curl -X DELETE localhost:8080/api/users/1              # 204
#   curl -X PUT --data-binary 'hello' localhost:8080/kv/greeting   # 204 (?ttl=30s to expire)
#   curl localhost:8080/kv/greeting                        # hello
#   curl 'localhost:8080/kv?prefix=gr'                     # ["greeting"]
#   curl -X DELETE localhost:8080/kv/greeting              # 204
#
# Building it needs Debian's crates: apt-get install librust-serde-derive-dev
# librust-serde-json-dev librust-sha2-dev (scripts/setup installs them).
function "api" {
  runtime = "rust"
  path    = "./api"
}

database "vinyl" "main" {
  definition = "data.proto"
  record "User" {
    primary_key = "id"
    index "email"    { unique = true }
    index "username" { unique = true }
  }
}

database "kv" "data" {}

gateway {
  type = "http"
  port = 8080
  route "/" {
    function = "${function.api}"
  }
}
