package storage

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestLibraryLogsGoToSlog(t *testing.T) {
	var buf bytes.Buffer
	RouteLibraryLogs(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), false)
	t.Cleanup(func() { logrus.StandardLogger().ReplaceHooks(logrus.LevelHooks{}) })
	logrus.WithField("layer", "abc").Warn("layer is odd")
	logrus.Debug("hidden unless debug")
	out := buf.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, `msg="layer is odd"`) || !strings.Contains(out, "layer=abc") {
		t.Errorf("a logrus warning became %q", out)
	}
	if strings.Contains(out, "hidden") {
		t.Errorf("a logrus debug line was kept without debug: %q", out)
	}
}
