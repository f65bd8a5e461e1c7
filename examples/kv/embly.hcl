# kv is a small HTTP API over a key-value database:
#
#   curl -X PUT --data-binary 'hello' localhost:8080/kv/greeting   # 204
#   curl localhost:8080/kv/greeting                                # hello
#   curl 'localhost:8080/kv?prefix=gr'                             # ["greeting"]
#   curl -X DELETE localhost:8080/kv/greeting                      # 204
#
# The data lives in .embly/store.db (SQLite) and survives restarts; run with
# `embly run --store postgres://...` to keep it in PostgreSQL instead.
function "kv" {
  runtime = "go"
  path    = "./kv"
}

database "kv" "data" {}

gateway {
  type = "http"
  port = 8080
  route "/" {
    function = "${function.kv}"
  }
}
