// Command kv serves the key-value database "data" over HTTP:
//
//	PUT    /kv/{key}      store the request body under key   -> 204
//	GET    /kv/{key}      the value                          -> 200, or 404
//	DELETE /kv/{key}      remove key                         -> 204
//	GET    /kv?prefix=p   the keys that start with p         -> 200, a JSON array
//
// A PUT may set ?ttl=30s to make the key expire.
package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	embly "github.com/embly/embly/sdk/go"
)

var data = embly.KV("data")

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /kv/{key...}", get)
	mux.HandleFunc("PUT /kv/{key...}", put)
	mux.HandleFunc("DELETE /kv/{key...}", del)
	mux.HandleFunc("GET /kv", list)
	embly.HandleHTTP(mux)
}

func get(w http.ResponseWriter, r *http.Request) {
	v, err := data.Get(r.PathValue("key"))
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(v)
}

func put(w http.ResponseWriter, r *http.Request) {
	var ttl time.Duration
	if s := r.URL.Query().Get("ttl"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			http.Error(w, "ttl must be a positive duration, like 30s", http.StatusBadRequest)
			return
		}
		ttl = d
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, embly.MaxValueSize+1))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := data.SetTTL(r.PathValue("key"), body, ttl); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func del(w http.ResponseWriter, r *http.Request) {
	if err := data.Delete(r.PathValue("key")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// list answers every key under the prefix, a page of the store at a time.
func list(w http.ResponseWriter, r *http.Request) {
	keys := []string{}
	var failed error
	data.Keys(r.URL.Query().Get("prefix"))(func(key string, err error) bool {
		if err != nil {
			failed = err
			return false
		}
		keys = append(keys, key)
		return true
	})
	if failed != nil {
		fail(w, failed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(keys)
}

// fail maps the store's errors to HTTP statuses.
func fail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, embly.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, embly.ErrTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, embly.ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, embly.ErrUnavailable):
		status = http.StatusServiceUnavailable
	}
	http.Error(w, err.Error(), status)
}
