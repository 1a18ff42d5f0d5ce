package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// receiverCmds are the tools for people who receive webhooks: verify,
// send-test, listen and init.
func receiverCmds(stdout, stderr io.Writer) []*cobra.Command {
	return nil
}
