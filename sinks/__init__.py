"""SQL sinks: entity tables and the SqlSink that upserts and tombstones them."""
