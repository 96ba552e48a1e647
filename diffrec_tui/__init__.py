"""diffrec-tui: the Textual app and the command line. Never imports torch at start-up."""
