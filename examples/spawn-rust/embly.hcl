# front (Rust) answers HTTP; for each request it spawns back (C), sends it a
# message and relays back's answer.
function "front" {
  runtime = "rust"
  path    = "./front"
}

function "back" {
  runtime = "c"
  path    = "./back"
}

gateway {
  type = "http"
  port = 8080
  route "/" {
    function = "${function.front}"
  }
}
