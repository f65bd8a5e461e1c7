// Command back is spawned by front: it reads everything its parent (conn 1)
// sends, until EOF, and answers "back got: <message>".
package main

import (
	"fmt"
	"io"
	"os"

	embly "github.com/embly/embly/sdk/go"
)

func main() {
	parent := embly.Parent()
	msg, err := io.ReadAll(parent)
	if err != nil {
		fmt.Fprintln(os.Stderr, "back:", err)
		os.Exit(1)
	}
	fmt.Fprintf(parent, "back got: %s", msg)
	parent.Close()
}
