# fanout answers GET /?n=N: it spawns N instances of sha, sends each one
# chunk of data, and gathers their SHA-256 digests, one line per chunk.
function "fanout" {
  runtime = "c"
  path    = "./fanout"
}

function "sha" {
  runtime = "c"
  path    = "./sha"
}

gateway {
  type = "http"
  port = 8080
  route "/" {
    function = "${function.fanout}"
  }
}
