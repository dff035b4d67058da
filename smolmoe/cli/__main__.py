"""`python -m smolmoe.cli`: the `smolmoe` command (what `accelerate launch -m` and the
scripts run)."""
from .main import main

main()
