package main

import "github.com/crio/crio/hack/testregistry"

// registryOptions are the test registry's options.
func registryOptions(o *options) testregistry.Options {
	return testregistry.Options{}
}

// pullCases are the images of the pull section: busybox (one layer, about
// 1 MB) and crio-test/big (10 layers, about 200 MB of incompressible data).
func pullCases(o *options) []pullCase {
	return []pullCase{
		{label: "busybox", repo: testregistry.BusyboxImage, n: o.pullN},
		{label: "big", repo: testregistry.BigImage, n: o.pullBigN},
	}
}
