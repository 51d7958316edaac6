// Command server runs the coursehub GraphQL API.
//
// With no configuration it starts an embedded MongoDB-compatible database in
// ./data and listens on :8080. See README.md for every environment variable.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "coursehub:", err)
		os.Exit(1)
	}
}
