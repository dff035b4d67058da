"""The `smolmoe` command: main.py holds the group and the small commands; one module per
family of commands (build, eval, grow, baselines, rl, scratch); kit.py builds options from the
typed settings; progress.py and tables.py are the rich output."""
