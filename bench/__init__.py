"""`make bench`: throughput and latency of a local 3-node Conflux cluster, with baselines."""
