package sandbox

import "testing"

func TestParseNetDev(t *testing.T) {
	in := []byte(`Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1200      12    0    0    0     0          0         0     1200      12    0    0    0     0       0          0
  eth0: 9876543   6543    1    2    0     0          0         0   123456    789    3    4    0     0       0          0
`)
	got, err := parseNetDev(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d interfaces, want 2", len(got))
	}
	e := got[1]
	if e.Name != "eth0" || e.RxBytes != 9876543 || e.RxPackets != 6543 || e.RxErrors != 1 || e.RxDropped != 2 ||
		e.TxBytes != 123456 || e.TxPackets != 789 || e.TxErrors != 3 || e.TxDropped != 4 {
		t.Errorf("eth0 = %+v", e)
	}
	if _, err := parseNetDev([]byte("eth0: 1 2 3\n")); err == nil {
		t.Error("a short line must be an error")
	}
}
