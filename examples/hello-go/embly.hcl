function "hello" {
  runtime = "go"
  path    = "./hello"
}

gateway {
  type = "http"
  port = 8080
  route "/" {
    function = "${function.hello}"
  }
}
