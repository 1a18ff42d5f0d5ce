// Command herald is the Herald webhook delivery server and its receiver
// tools. See `herald --help`.
package main

import (
	"context"
	"os"

	"github.com/heraldhq/herald/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
