function "counter" {
  runtime = "c"
  path    = "./counter"
}

gateway {
  type = "http"
  port = 8080
  route "/" {
    function = "${function.counter}"
  }
}
