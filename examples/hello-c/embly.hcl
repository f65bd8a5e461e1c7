function "hello" {
  runtime = "c"
  path    = "./hello"
}

gateway {
  type = "http"
  port = 8080
  route "/" {
    function = "${function.hello}"
  }
}
