"""Command-palette provider (ctrl+p): config, run and screen commands, and one
"Open run ..." command per run directory."""
from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class DiffRecCommands(Provider):
    def _commands(self) -> list[tuple[str, object, str]]:
        app = self.app
        cmds = [
            ("Open config...", app.action_open_config, "Load a YAML config into the editor"),
            ("Save config", app.action_save_config, "Write the edited config to its file"),
            ("Save config as...", app.action_save_config_as, "Write the edited config to a new file"),
            ("Start run", app.action_start_run, "Train the edited config in a background worker"),
            ("Stop run", app.action_stop_run, "Stop the followed run at the next batch (checkpoint kept)"),
            ("Help", app.action_help, "Show every key binding"),
            ("Compare run groups", app.action_comparison, "Mean ± SD and significance of a --compare --seeds"),
        ]
        for page in app.pages():
            cmds.append((f"Switch to {page.title} screen", partial(app.action_page, page.mode),
                         f"Same as key {page.key}"))
        return cmds

    def _run_commands(self) -> list[tuple[str, object, str]]:
        root = self.app.runs_dir
        if not root.is_dir():
            return []
        from engine.records.run_index import run_dirs
        dirs = run_dirs(root, sweeps=False)  # newest first
        return [(f"Open run {p.name}", partial(self.app.open_run, p), "Show this run on the Train screen")
                for p in dirs]

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands() + self._run_commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, text=name, help=help_text)
