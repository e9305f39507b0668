"""Device drivers: start, configure and read FRR, BIRD, the RTR cache and hosts."""
