# limit may have at most 5 live children.
function "limit" {
  runtime      = "c"
  path         = "./limit"
  max_children = 5
}

function "echo" {
  runtime = "c"
  path    = "./echo"
}

gateway {
  type = "http"
  port = 8080
  route "/" {
    function = "${function.limit}"
  }
}
