"""Extra CLI commands; each module attaches its commands to bench.cli.main."""
