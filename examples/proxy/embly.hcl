# proxy fetches the URL in its "url" query parameter through the host's
# embly/http service and relays the answer as it streams in:
#
#   curl 'localhost:8080/?url=https://example.com/'
#
# Only what allowed_hosts lists is reachable; anything else is a 403 that
# says which entry to add.
function "proxy" {
  runtime       = "go"
  path          = "./proxy"
  allowed_hosts = ["https://example.com", "http://127.0.0.1:8081"]
}

gateway {
  type = "http"
  port = 8080
  route "/" {
    function = "${function.proxy}"
  }
}
