package actors_test

import (
	"github.com/weirflow/weir/actors"
	api "github.com/weirflow/weir/http"
)

// The Engine must keep satisfying the HTTP layer's interface; this fails to
// compile when either side drifts.
var _ api.Engine = (*actors.Engine)(nil)
