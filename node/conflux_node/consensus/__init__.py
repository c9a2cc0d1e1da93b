"""Consensus: a thin adapter over pysyncobj, made durable and bridged to asyncio."""
