"""Running methods over splits: the config resolver, the runner, executors, the feature cache, scoring."""
