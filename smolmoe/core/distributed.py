"""Where this process stands among several (torchrun / accelerate launch): the main process
writes, the others wait. Every saved model and checkpoint asks here."""
from __future__ import annotations

import torch


def process_state():
    """This process's place among several (torchrun / accelerate launch) or alone.

    Without a GPU, accelerate only forms a gloo process group when told the run is on the
    CPU, so say so: several CPU processes then train as one data-parallel job.
    """
    from accelerate import PartialState
    return PartialState(cpu=not torch.cuda.is_available())
