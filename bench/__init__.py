"""Benchmarks, and the fleet seeding the sync tests share with them."""
