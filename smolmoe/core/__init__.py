"""What every stage shares and nothing else: settings and their checks, the typed configs,
errors, atomic file writes, precision, process state, the packaged base and model directories."""
