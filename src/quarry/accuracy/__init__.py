"""Function accuracy: evaluations of extractions, metrics from corrections, review estimates,
regression runs between versions, score runs against expected outputs (``/v3/eval``,
``/v3/functions/{metrics,review,regression,compare}``)."""
