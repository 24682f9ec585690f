package slackapp

import (
	"strconv"
	"strings"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// maxPage bounds a list's page number: enough for any queue of requests,
// small enough that the offset it makes stays reasonable.
const maxPage = 10000

// parseList parses the words after list: nothing, or a page number.
func parseList(args []string) (Command, error) {
	switch len(args) {
	case 0:
		return Command{Kind: CmdList}, nil
	case 1:
		n, err := strconv.Atoi(plainText(args[0]))
		if err != nil || n < 1 || n > maxPage {
			return Command{}, usagef("%s is not a page number; write it like `list 2`", quoted(args[0]))
		}
		return Command{Kind: CmdList, Page: n}, nil
	}
	return Command{}, usagef("list takes at most a page number, like `list 2`")
}

// parseLink parses the words after link: one request ID.
func parseLink(args []string) (Command, error) {
	if len(args) != 1 {
		return Command{}, usagef("link takes the ID of your grant, like `link %s`", exampleID)
	}
	id := strings.ToUpper(plainText(args[0]))
	if !approval.ValidID(id) {
		return Command{}, usagef("%s is not a request ID; IDs look like %s (see `/share-bucket list`)", quoted(args[0]), exampleID)
	}
	return Command{Kind: CmdLink, ID: id}, nil
}
