"""Foundation MABEAM: the reference cluster node that the suites test."""
