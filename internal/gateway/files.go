package gateway

import (
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
)

// serveFiles serves the files block of rt with the route prefix stripped.
// os.Root confines every open to the block's directory: ".." cannot climb out
// and symlinks that point outside fail, so both end as 404.
func (g *HTTP) serveFiles(w *statusWriter, r *http.Request, rt *route, rl *requestLog) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed)
		return
	}
	rel := strings.TrimPrefix(r.URL.Path, rt.base)
	if hasDotDot(rel) || strings.ContainsRune(rel, 0) {
		writeError(w, http.StatusNotFound)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+rel), "/")
	if name == "" {
		name = "."
	}

	root, err := os.OpenRoot(rt.files.Path)
	if err != nil {
		rl.errorf("cannot open its directory: %v", err)
		writeError(w, http.StatusNotFound)
		return
	}
	defer root.Close()

	fi, err := root.Stat(name)
	if err != nil {
		writeError(w, http.StatusNotFound)
		return
	}
	if fi.IsDir() {
		if !strings.HasSuffix(r.URL.Path, "/") {
			redirectToDir(w, r)
			return
		}
		name = path.Join(name, "index.html")
		if fi, err = root.Stat(name); err != nil {
			writeError(w, http.StatusNotFound) // no directory listings
			return
		}
	} else if strings.HasSuffix(r.URL.Path, "/") {
		writeError(w, http.StatusNotFound)
		return
	}
	// Only regular files: opening a FIFO would block, a device is not an asset.
	if !fi.Mode().IsRegular() {
		writeError(w, http.StatusNotFound)
		return
	}
	f, err := root.Open(name)
	if err != nil {
		writeError(w, http.StatusNotFound)
		return
	}
	defer f.Close()
	// Stat the open file: it is what we serve, whatever happened since.
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		writeError(w, http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("ETag", etag(fi))
	if g.FilesCacheControl != "" {
		h.Set("Cache-Control", g.FilesCacheControl)
	}
	// ServeContent does Content-Type (extension, then sniffing),
	// Last-Modified, If-None-Match / If-Modified-Since (304), Range (206)
	// and HEAD.
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}

// etag is a strong validator from the modification time and size: cheap, and
// it changes whenever a rebuild rewrites the file.
func etag(fi fs.FileInfo) string {
	return fmt.Sprintf(`"%x-%x"`, fi.ModTime().UnixNano(), fi.Size())
}

// hasDotDot reports whether p has a ".." segment. Such requests are refused
// outright rather than cleaned: nobody asks for them but someone probing.
func hasDotDot(p string) bool {
	for _, seg := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return true
		}
	}
	return false
}

// redirectToDir sends "/docs" to "/docs/" so that relative links in
// docs/index.html resolve. The Location is relative ("./docs/"), which can
// never point to another host, whatever the request path looks like.
func redirectToDir(w http.ResponseWriter, r *http.Request) {
	loc := "./" + (&url.URL{Path: path.Base(r.URL.Path)}).EscapedPath() + "/"
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusMovedPermanently)
}
