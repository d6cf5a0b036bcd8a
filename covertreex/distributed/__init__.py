"""Exact k-NN over a Dask cluster (extra ``dask``): ``ShardedTree`` holds one ``CoverTree`` per shard on
the workers and merges the shards' answers exactly."""

from covertreex.distributed.sharded import ShardedResult, ShardedTree, ShardLostError

__all__ = ["ShardLostError", "ShardedResult", "ShardedTree"]
