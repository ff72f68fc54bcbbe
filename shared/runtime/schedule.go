package runtime

import (
	"context"
	"log/slog"
)

// startSchedules fires the template's Schedule events; it returns what stops them.
//
// TODO: Schedule and ScheduleV2 events are parsed but not fired yet; `caas invoke` with an
// EventBridge-shaped event runs such a function by hand.
func startSchedules(ctx context.Context, s *stack, logger *slog.Logger) func() {
	for _, name := range s.tmpl.FunctionNames() {
		for _, sc := range s.tmpl.Functions[name].Schedules {
			logger.Warn("schedule not fired by the local runtime", "function", name, "schedule", sc.Expression)
		}
	}
	return func() {}
}
