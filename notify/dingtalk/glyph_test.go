package dingtalk

import (
	"testing"

	"github.com/backlog-alert/backlog-alert/notify"
)

func TestEveryIconIsDrawn(t *testing.T) {
	for _, icon := range notify.Icons {
		if glyph[icon] == "" {
			t.Errorf("no glyph for %s", icon)
		}
	}
}
