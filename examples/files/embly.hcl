# Static files only: the gateway serves ./public at /, with content types,
# ETag/Last-Modified revalidation, ranges and index.html.
files "site" {
  path = "./public"
}

gateway {
  type = "http"
  port = 8080
  route "/" {
    files = "${files.site}"
  }
}
