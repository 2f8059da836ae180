"""Command-line interface: one thin module per subcommand (see :mod:`medsr.cli.main`)."""
