"""What the tests share besides fixtures: tiny models and data (tiny_models, tiny_moe,
scratch_fixtures), an offline package fetcher (fake_fetch) and a served model (live_server)."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]   # the checkout: scripts/, experts/, smolmoe/
