package function

import (
	"context"
	"log/slog"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
)

// scrubber removes secrets from text before it is logged or reported. It is
// the last line of defence: the clients already redact their own errors.
type scrubber struct {
	secrets []string
}

func newScrubber(secrets ...string) *scrubber { return &scrubber{secrets: secrets} }

// string hides the OpenAPI's signed parameters, webhook URLs and every known
// secret value (also in its URL-escaped forms).
func (s *scrubber) string(text string) string {
	return notify.RedactText(alikafka.Redact(text), s.secrets...)
}

// handler wraps h so that every string attribute and message is scrubbed.
func (s *scrubber) handler(h slog.Handler) slog.Handler { return &scrubHandler{h, s} }

type scrubHandler struct {
	next  slog.Handler
	scrub *scrubber
}

func (h *scrubHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.scrub.string(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *scrubHandler) attr(a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.scrub.string(a.Value.String()))
	case slog.KindGroup:
		attrs := a.Value.Group()
		out := make([]any, len(attrs))
		for i, g := range attrs {
			out[i] = h.attr(g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			return slog.String(a.Key, h.scrub.string(err.Error()))
		}
	}
	return a
}

func (h *scrubHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	scrubbed := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		scrubbed[i] = h.attr(a)
	}
	return &scrubHandler{h.next.WithAttrs(scrubbed), h.scrub}
}

func (h *scrubHandler) WithGroup(name string) slog.Handler {
	return &scrubHandler{h.next.WithGroup(name), h.scrub}
}
