"""What a run shows: console lines, TensorBoard HParams and event files."""
