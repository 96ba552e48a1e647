"""The headless commands, apart from the screens: --run/--resume (run), --compare, --tune,
--inspect/--export-recs (inspect), --export-tensorboard, and their terminal output (report).
diffrec_tui.cli parses the arguments and dispatches here."""
