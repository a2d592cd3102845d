"""The simulator's own tests. A package, so that its test modules (``simulator.test_cli``)
never clash with a test module of the same name in tests/ (``test_cli``)."""
