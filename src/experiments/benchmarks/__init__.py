"""Speed measurements: raw loops (`loops`), our timed runs (`runs`), the report (`report`)."""
