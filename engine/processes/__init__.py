"""The processes layer: one supervisor for every child process (spawn, follow, stop, kill
after a grace, exit codes), the training worker, the sweep coordinator and how a sweep shares
the machine's cores."""
