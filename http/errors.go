package http

import (
	"context"
	"errors"
	"net/http"

	"github.com/weirflow/weir/config"
)

// This file is the one place where config's sentinel errors become HTTP
// statuses. Each API family adds its own mapping function here, because each
// family's contract fixes different statuses and bodies for the same error.

// adminStatus maps an error to the status of weir's own /weir/v1 routes.
// Client mistakes are 4xx, never 500; unknown errors are 500.
func adminStatus(err error) int {
	switch {
	case errors.Is(err, config.ErrInvalidName), errors.Is(err, config.ErrInvalidArgument):
		return http.StatusBadRequest
	case errors.Is(err, config.ErrNamespaceNotFound), errors.Is(err, config.ErrTopicNotFound),
		errors.Is(err, config.ErrPartitionNotFound), errors.Is(err, config.ErrStreamNotFound),
		errors.Is(err, config.ErrNotMember), errors.Is(err, errGroupNotFound):
		return http.StatusNotFound
	case errors.Is(err, config.ErrNamespaceExists), errors.Is(err, config.ErrTopicExists),
		errors.Is(err, config.ErrStreamExists), errors.Is(err, config.ErrMemberConflict):
		return http.StatusConflict
	case errors.Is(err, config.ErrNamespaceProtected):
		return http.StatusForbidden
	case errors.Is(err, config.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, config.ErrBusy), errors.Is(err, config.ErrUnavailable), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	case errors.Is(err, config.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}
