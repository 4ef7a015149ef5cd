"""Dataset readers, one module per file format; importing this package registers them all."""
from . import kard, ntu, nwucla, pkummd, utkinect  # noqa: F401
