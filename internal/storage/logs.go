package storage

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/sirupsen/logrus"
)

// RouteLibraryLogs sends what go.podman.io/storage and go.podman.io/image
// log (through logrus) to the daemon's slog logger, so that their warnings
// land in the daemon's log in its format instead of raw on stderr. Their
// debug output (every registry request) is kept only when debug is true.
func RouteLibraryLogs(log *slog.Logger, debug bool) {
	logrus.SetOutput(io.Discard)
	logrus.SetLevel(logrus.InfoLevel)
	if debug {
		logrus.SetLevel(logrus.DebugLevel)
	}
	logrus.StandardLogger().ReplaceHooks(logrus.LevelHooks{})
	logrus.AddHook(&slogHook{log: log.With("source", "containers-lib")})
}

type slogHook struct{ log *slog.Logger }

func (h *slogHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *slogHook) Fire(e *logrus.Entry) error {
	level := slog.LevelDebug
	switch {
	case e.Level <= logrus.ErrorLevel:
		level = slog.LevelError
	case e.Level == logrus.WarnLevel:
		level = slog.LevelWarn
	case e.Level == logrus.InfoLevel:
		level = slog.LevelInfo
	}
	attrs := make([]any, 0, 2*len(e.Data))
	for k, v := range e.Data {
		attrs = append(attrs, k, v)
	}
	h.log.Log(context.Background(), level, strings.TrimSpace(e.Message), attrs...)
	return nil
}
