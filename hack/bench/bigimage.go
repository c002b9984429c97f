package main

import "github.com/crio/crio/hack/testregistry"

// registryOptions are the test registry's options.
//
// Until testregistry.BigImage (the ~200 MB 10-layer image, built only on
// request) lands, the second image of the pull section is
// crio-test/multilayer (6 layers, 42 MiB), which the registry always has.
func registryOptions(o *options) testregistry.Options {
	return testregistry.Options{}
}

// pullCases are the images of the pull section.
func pullCases(o *options) []pullCase {
	return []pullCase{
		{label: "busybox", repo: testregistry.BusyboxImage, n: o.pullN},
		{label: "multilayer", repo: testregistry.MultiLayerImage, n: o.pullBigN},
	}
}
