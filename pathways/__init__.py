"""Entry points: the `pathways` command line."""
