package kube

import (
	"testing"

	"github.com/crio/crio/test/framework"
)

func TestMain(m *testing.M) { framework.Main(m) }
