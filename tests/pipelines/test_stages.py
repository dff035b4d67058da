"""stages.py: the stage sequencer both pipelines share."""
from __future__ import annotations

import pytest

from smolmoe.pipelines.sequencer import Stages


def test_stages_run_in_order_timed_and_reported():
    events = []
    stages = Stages(on_stage=lambda n: events.append(("start", n)),
                    on_result=lambda n, r, s: events.append(("done", n, dict(r), s)))
    with stages.stage("one") as r:
        r["x"] = 1
    with stages.stage("two"):
        pass
    assert [e[:2] for e in events] == [("start", "one"), ("done", "one"), ("start", "two"), ("done", "two")]
    assert events[1][2] == {"x": 1} and list(stages.timings) == ["one", "two"]
    assert all(t >= 0 for t in stages.timings.values())


def test_a_failing_stage_is_not_reported_as_done():
    done = []
    stages = Stages(on_result=lambda n, r, s: done.append(n))
    with pytest.raises(RuntimeError), stages.stage("broken"):
        raise RuntimeError("boom")
    assert done == [] and "broken" not in stages.timings
