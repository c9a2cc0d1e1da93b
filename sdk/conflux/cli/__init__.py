"""The `conflux` command-line tool (entry point `conflux.cli.main:main`)."""
