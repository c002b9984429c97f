package e2e

import (
	"testing"

	"github.com/crio/crio/test/framework"
)

func TestMain(m *testing.M) { framework.Main(m) }
