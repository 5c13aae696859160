package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
)

func newDemoTokenCommand() *cobra.Command {
	var (
		sub    string
		scopes []string
		ttl    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "demo-token --sub ID [--scope S]... [--ttl 1h]",
		Short: "Print a JWT that `gateway demo` accepts, signed with the DEMO key under examples/keys",
		Long: `Print a JWT that ` + "`gateway demo`" + ` accepts: issuer and audience of the demo, subject --sub,
the scopes given (repeat --scope, or separate them with spaces), valid for --ttl. It is signed with
the DEMO key in examples/keys, which is public: never trust it outside the demo.

  TOKEN=$(gateway demo-token --sub 1 --scope orders:read)
  curl -H "Authorization: Bearer $TOKEN" 127.0.0.1:8080/v1/users/1/orders`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var list []string
			for _, s := range scopes {
				list = append(list, strings.Fields(s)...)
			}
			tok, err := demo.Token(sub, list, ttl, time.Now())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		},
	}
	cmd.Flags().StringVar(&sub, "sub", "", "the token's subject: the consumer the gateway sends upstream as x-consumer-id (required)")
	cmd.Flags().StringArrayVar(&scopes, "scope", nil, "a scope to grant, such as orders:read (repeatable)")
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "how long the token is valid")
	_ = cmd.MarkFlagRequired("sub")
	return cmd
}
