# A request body streams through a chain of three functions and back:
# pipeline (the HTTP front) -> upper -> rot13 -> squash, each a separate
# instance that transforms what it reads as it reads it. All four run the
# same C source, which looks at its own name (argv[0]) to know its job.
function "pipeline" {
  runtime = "c"
  path    = "./stage"
}

function "upper" {
  runtime = "c"
  path    = "./stage"
}

function "rot13" {
  runtime = "c"
  path    = "./stage"
}

function "squash" {
  runtime = "c"
  path    = "./stage"
}

gateway {
  type = "http"
  port = 8080
  route "/" {
    function = "${function.pipeline}"
  }
}
