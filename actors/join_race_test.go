package actors

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/weirflow/weir/config"
)

// TestJoinCreatingTopicRacesDelete: a join that creates its topic, racing
// a loop deleting that topic, either joins or fails with a retryable
// ErrUnavailable; it never reports the topic as missing (PolarStreams would
// answer 400 "Invalid topic" for a valid name), because a join that
// creates its topics starts over when one vanished between being resolved
// and being joined.
func TestJoinCreatingTopicRacesDelete(t *testing.T) {
	e := startEngine(t, testConfig(t.TempDir()))
	ctx := context.Background()
	stopDeleting := deleteLoop(e, ctx, "default", "racy")
	var failures []error
	for i := 0; i < 50; i++ {
		_, err := e.JoinGroup(ctx, config.JoinRequest{Namespace: "default", Group: "g", Member: fmt.Sprintf("m%d", i),
			Topics: []string{"racy"}, CreateTopics: true})
		if err != nil && (errors.Is(err, config.ErrTopicNotFound) || !errors.Is(err, config.ErrUnavailable)) {
			failures = append(failures, err)
		}
	}
	stopDeleting()
	for _, err := range failures {
		t.Errorf("join racing a delete: %v (want success or a retryable ErrUnavailable)", err)
	}
}
