package main

import (
	"context"
	"testing"
	"time"

	controlapi "github.com/moby/buildkit/api/services/control"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func record(ref string, completed time.Time) *controlapi.BuildHistoryRecord {
	return &controlapi.BuildHistoryRecord{Ref: ref, CompletedAt: timestamppb.New(completed)}
}

// BuildKit replays stored records by ref, not by time: the backlog must still
// give the build that completed last first, and every live record before any
// of the backlog.
func TestQueueLiveFirstThenLatestCompletedBacklog(t *testing.T) {
	base := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	q := newQueue()
	// Replayed in ref order: a (oldest), z (newest), m, b.
	q.push(record("a", base), true)
	q.push(record("z", base.Add(3*time.Hour)), true)
	q.push(record("m", base.Add(time.Hour)), true)
	q.push(record("b", base.Add(2*time.Hour)), true)
	q.push(record("live1", base.Add(4*time.Hour)), false)
	q.push(record("live2", base.Add(5*time.Hour)), false)
	q.push(&controlapi.BuildHistoryRecord{Ref: "undated"}, true)
	q.close()

	var got []string
	for {
		rec, ok := q.pop(context.Background())
		if !ok {
			break
		}
		got = append(got, rec.Ref)
	}
	want := []string{"live1", "live2", "z", "b", "m", "a", "undated"}
	if len(got) != len(want) {
		t.Fatalf("popped %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("popped %v, want %v", got, want)
		}
	}
}
