# front answers HTTP; for each request it spawns back, sends it a message
# and relays back's answer.
function "front" {
  runtime = "go"
  path    = "./front"
}

function "back" {
  runtime = "go"
  path    = "./back"
}

gateway {
  type = "http"
  port = 8080
  route "/" {
    function = "${function.front}"
  }
}
