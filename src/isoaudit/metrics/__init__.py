"""Pure transformations: DataFrames in, DataFrames out. No I/O, no AWS."""
