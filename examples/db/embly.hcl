# db is a JSON API over a vinyl (record) database of users:
#
#   curl -X POST -d '{"username":"ada","email":"ada@example.com","password":"s3cret"}' localhost:8080/api/users   # 201
#   curl localhost:8080/api/users/1                     # 200, or 404
#   curl 'localhost:8080/api/users?email=ada@example.com'  # 200, a JSON array (an index query)
#   curl -X DELETE localhost:8080/api/users/1           # 204
#
# A duplicate email or username is 409. The records live in .embly/store.db
# (SQLite); `embly run --store postgres://...` keeps them in PostgreSQL.
function "users" {
  runtime = "go"
  path    = "./users"
}

database "vinyl" "main" {
  definition = "data.proto"
  record "User" {
    primary_key = "id"
    index "email"    { unique = true }
    index "username" { unique = true }
  }
}

gateway {
  type = "http"
  port = 8080
  route "/api/" {
    function = "${function.users}"
  }
}
