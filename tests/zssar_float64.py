"""The ``zssar`` command line with the backbone trained in float64 (a test helper, not a test).

Two trainings that differ only in the order of float sums (one process against several, as in
tests/test_distributed.py) drift apart in float32: pretraining amplifies rounding differences of
1e-7 into train losses that differ in the fourth digit within a few epochs (a 1e-7 relative change
of the initial weights does the same to one process). In float64 they agree to ~1e-15, so a test
can hold torchrun's pretraining to one process's numbers exactly. Run as the command line is:
``python tests/zssar_float64.py pretrain ...`` (or under ``torch.distributed.run``).
"""
import sys

import numpy as np


def _in_float64() -> None:
    from zssar.backbones import pretrain

    inputs, augment, build = pretrain._inputs, pretrain._augment, pretrain.build_backbone
    pretrain._inputs = lambda data, config: tuple(a.astype(np.float64) if a.dtype == np.float32 else a
                                                  for a in inputs(data, config))
    pretrain._augment = lambda x, rng: augment(x, rng).astype(np.float64)
    pretrain.build_backbone = lambda *args, **kwargs: build(*args, **kwargs).double()


if __name__ == "__main__":
    _in_float64()
    from zssar.cli import main

    sys.exit(main(sys.argv[1:]))
