function "counter" {
  runtime = "go"
  path    = "./counter"
}

gateway {
  type = "http"
  port = 8080
  route "/" {
    function = "${function.counter}"
  }
}
