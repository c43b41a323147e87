"""submitit launchers that collect every job of a sweep, whatever the cluster did to it."""
