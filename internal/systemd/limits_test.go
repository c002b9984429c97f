package systemd

import (
	"math"
	"testing"
)

func TestSliceLimitsProperties(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    SliceLimits
		want map[string]uint64
	}{
		{"none", SliceLimits{}, map[string]uint64{}},
		{"memory and weight", SliceLimits{MemoryMax: 128 << 20, CPUWeight: 20}, map[string]uint64{"MemoryMax": 128 << 20, "CPUWeight": 20}},
		// Half a CPU; and 1.234 CPUs rounds up to a whole percent, as runc does.
		{"quota", SliceLimits{CPUQuota: 50000, CPUPeriod: 100000}, map[string]uint64{"CPUQuotaPeriodUSec": 100000, "CPUQuotaPerSecUSec": 500000}},
		{"quota rounded", SliceLimits{CPUQuota: 123400}, map[string]uint64{"CPUQuotaPerSecUSec": 1240000}},
		{"unlimited", SliceLimits{CPUQuota: -1}, map[string]uint64{"CPUQuotaPerSecUSec": math.MaxUint64}},
	} {
		got := map[string]uint64{}
		for _, p := range tc.l.properties() {
			v, ok := p.Value.Value().(uint64)
			if !ok {
				t.Fatalf("%s: property %s is %T, want uint64", tc.name, p.Name, p.Value.Value())
			}
			got[p.Name] = v
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: properties %v, want %v", tc.name, got, tc.want)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s = %d, want %d", tc.name, k, got[k], v)
			}
		}
	}
}
