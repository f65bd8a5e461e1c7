package embly_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"

	embly "github.com/embly/embly/sdk/go"
)

// An HTTP function: main hands an http.Handler to HandleHTTP.
func ExampleHandleHTTP() {
	embly.HandleHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Hello World")
	}))
}

// Streaming: each Flush sends what was written so far.
func ExampleHandleHTTP_streaming() {
	embly.HandleHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: tick %d\n\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(time.Second)
		}
	}))
}

// Spawn starts another function of the project and talks to it: write a
// request, close the write side so it reads EOF, then read its answer.
func ExampleSpawn() {
	back, err := embly.Spawn("back")
	if err != nil {
		log.Fatal(err) // e.g. `embly: spawn "function/back": no such function "back" in this project`
	}
	if _, err := io.WriteString(back, "hello"); err != nil {
		log.Fatal(err)
	}
	back.Close()
	answer, err := io.ReadAll(back)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("back answered %q\n", answer)
}

// A function started by another one reads its input from its parent, conn 1,
// and answers there.
func ExampleParent() {
	parent := embly.Parent()
	msg, err := io.ReadAll(parent)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(parent, "back got: %s", msg)
	parent.Close()
}

// Wait serves whichever of several spawned functions answers first.
func ExampleWait() {
	a, _ := embly.Spawn("a")
	b, _ := embly.Spawn("b")
	a.Close()
	b.Close()
	ready, err := embly.Wait(5*time.Second, a, b)
	if err != nil {
		log.Fatal(err)
	}
	if len(ready) == 0 {
		log.Fatal("no answer within 5s")
	}
	first, _ := io.ReadAll(ready[0])
	fmt.Printf("conn %d answered first: %s\n", ready[0].ID(), first)
}

// Outbound HTTP goes through the host's embly/http service, for the hosts
// the function's allowed_hosts lists in embly.hcl:
//
//	function "api" {
//	  runtime       = "go"
//	  path          = "./api"
//	  allowed_hosts = ["https://api.example.com"]
//	}
//
// Inside a function http.DefaultTransport already is an embly.Transport, so
// http.Get works too.
func ExampleHTTPClient() {
	resp, err := embly.HTTPClient().Get("https://api.example.com/v1/items")
	var refused *embly.HostError
	if errors.As(err, &refused) {
		log.Fatal(refused.Code, ": ", refused.Message) // e.g. not-allowed: embly/http: ... is not in allowed_hosts ...
	}
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
}

// A key-value database declared in embly.hcl as database "kv" "cache" {}.
func ExampleKV() {
	cache := embly.KV("cache")
	embly.HandleHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := cache.Get("greeting")
		if errors.Is(err, embly.ErrNotFound) {
			v = []byte("Hello World")
			err = cache.SetTTL("greeting", v, time.Hour)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(v)
	}))
}
